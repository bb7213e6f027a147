#!/usr/bin/python3
# Writes the golden files test_json reads: each message as Google's own
# json_format writes it (NAME.json; NAME.names.json with proto field names)
# and as Google's encoder packs it (NAME.pb). Not run by the build or CI; the
# outputs are committed. Needs protoc and python3-protobuf (Debian):
#   /usr/bin/python3 tests/data/json/make_golden.py
import os, subprocess, sys, tempfile

here = os.path.dirname(os.path.abspath(__file__))
proto = os.path.join(here, '..', '..', '..', 'proto')
tmp = tempfile.mkdtemp()
subprocess.check_call(['protoc', '-I' + proto, '--python_out=' + tmp,
                       os.path.join(proto, 'hutong.proto')])
sys.path.insert(0, tmp)
import hutong_pb2 as h  # noqa: E402
from google.protobuf import json_format  # noqa: E402

ID1 = bytes(range(32))
ID2 = bytes(range(0xe0, 0x100))


def person(name, role, idn='', phone=''):
    return h.Person(name=name, role=role, id_number=idn, phone=phone)


def fleeing():
    s = h.Submission(author='NJ-0042', scope=h.SCOPE_PROVINCE)
    f = s.body.fleeing_organization
    f.org_id = 'ORG-2019-320100-007'
    f.name = '某某连锁'
    f.aliases.extend(['1040工程', '纯资本运作'])
    f.leaders.append(person('张三', h.ROLE_ORGANIZER, '320102000000000011',
                            '13800000000'))
    f.leaders.append(person('李四', h.ROLE_BACKBONE))
    f.estimated_members = 300
    f.last_seen_region = '320100'
    f.last_seen_ms = 1764374400000
    f.suspected_destinations.extend(['450100', '360100'])
    f.level = h.ALERT_LEVEL_HIGH
    f.sighting = True
    return s


def intelligence():
    s = h.Submission(author='CS-7', scope=h.SCOPE_NEIGHBOURS)
    i = s.body.intelligence
    i.organization = '亚细亚'
    i.aliases.append('YXY')
    i.people.append(person('王五', h.ROLE_PARTICIPANT))
    i.people.append(person('赵六', h.ROLE_ORGANIZER, phone='+86 731 0000'))
    i.places.append(h.Place(region='430100', address='岳麓区某小区 3 栋'))
    i.mode = h.MODE_GATHERING
    i.summary = 'Recruits at night "classes";\nmoves every two weeks.'
    i.source = 'walk-in'
    i.reliability = h.RELIABILITY_B
    i.accuracy = 2
    i.handling = h.HANDLING_H2
    i.related.extend([ID1, ID2, b'\xfb\xef\xff'])
    return s


def correction():
    s = h.Submission(author='XA-1')
    c = s.body.correction
    c.target = ID2
    c.reason = 'wrong home region'
    r = c.replacement.repatriation
    r.case_id = 'XA-2026-0031'
    r.step = h.STEP_HAND_OVER
    r.people.append(person('孙七', h.ROLE_PARTICIPANT))
    r.from_region = '610100'
    r.to_region = '450600'
    r.time_ms = -1
    r.escort = 'unit 3'
    return s


def genesis():
    s = h.Submission(author='root', scope=h.SCOPE_LOCAL)
    s.body.genesis.public_key = ID1
    s.body.genesis.certificates.extend([bytes(range(200)), b'\x30'])
    return s


def header():
    return h.Header(origin_region='320100', origin_node='nanjing-1',
                    seq=18446744073709551615, prev_id=ID1,
                    created_ms=1764374400123, author='NJ-0042',
                    kind=h.KIND_FLEEING_ORGANIZATION, scope=h.SCOPE_NATIONAL,
                    body_hash=ID2)


def envelope():
    return h.Envelope(header=header().SerializeToString(),
                      signature=bytes(range(64)),
                      body=fleeing().body.SerializeToString())


for name, fn, ascii_ in [('fleeing', fleeing, False),
                         ('intelligence', intelligence, True),
                         ('correction', correction, False),
                         ('genesis', genesis, False),
                         ('header', header, False),
                         ('envelope', envelope, False)]:
    m = fn()
    with open(os.path.join(here, name + '.json'), 'w') as f:
        f.write(json_format.MessageToJson(m, ensure_ascii=ascii_) + '\n')
    with open(os.path.join(here, name + '.names.json'), 'w') as f:
        f.write(json_format.MessageToJson(
            m, preserving_proto_field_name=True, ensure_ascii=ascii_) + '\n')
    with open(os.path.join(here, name + '.pb'), 'wb') as f:
        f.write(m.SerializeToString())
