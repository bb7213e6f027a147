/*
 * cli_view: the helpers of the view commands (cli_view.h): flag parsing,
 * the subcommand table runner, and the JSON and text pieces that case, org,
 * alerts and intel print alike, so each is written once.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "cli_view.h"
#include "json.h"
#include "util.h"

static const struct option view_opts[] = {
    {"json", no_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {"state", required_argument, NULL, 's'},
    {"region", required_argument, NULL, 'r'},
    {"overdue", required_argument, NULL, 'o'},
    {"org", required_argument, NULL, 'g'},
    {"person", required_argument, NULL, 'p'},
    {"idno", required_argument, NULL, 'i'},
    {"phone", required_argument, NULL, 'f'},
    {"author", required_argument, NULL, 'a'},
    {"reason", required_argument, NULL, 'R'},
    {NULL, 0, NULL, 0}};

static int parse_flags(cli *c, int argc, char **argv, const char *allowed,
		       const char *help, cli_view_opts *o)
{
	int opt;
	const char **dst[128] = {0};
	dst['s'] = &o->state;
	dst['r'] = &o->region;
	dst['o'] = &o->overdue;
	dst['g'] = &o->org;
	dst['p'] = &o->person;
	dst['i'] = &o->idno;
	dst['f'] = &o->phone;
	dst['a'] = &o->author;
	dst['R'] = &o->reason;
	optind = 0;
	while ((opt = getopt_long(argc, argv, "h", view_opts, NULL)) != -1) {
		if (opt == 'h') {
			printf("%s", help);
			return -1;
		}
		if (opt == '?' || (opt != 'j' && !strchr(allowed, opt)))
			return cli_usage(c, "bad option for '%s'", argv[0]);
		if (opt == 'j')
			o->json = true;
		else
			*dst[opt] = optarg;
	}
	return 0;
}

int cli_view_parse(cli *c, int argc, char **argv, const cli_view_spec *s,
		   cli_view_opts *o)
{
	int rc = parse_flags(c, argc, argv, s->flags, s->help, o);
	if (rc == 0)
		rc = cli_want_args(c, argc, argv, s->n_args, s->what);
	o->args = argv + optind;
	return rc;
}

int cli_view_main(cli *c, int argc, char **argv, const cli_view_spec *s)
{
	cli_view_opts o = {0};
	int rc = cli_view_parse(c, argc, argv, s, &o);
	if (rc != 0)
		return rc < 0 ? CLI_OK : rc;
	return cli_read(c, s->run, &o);
}

const char *cli_view_time(int64_t ms, char buf[CLI_TIME_MAX])
{
	return ms ? cli_time(ms, buf) : "-";
}

/* "3d 4h", "2h 5m", "45s". */
const char *cli_view_dur(int64_t ms, char *buf, size_t len)
{
	int64_t s = ms / 1000;
	if (s < 0)
		s = 0;
	if (s >= 86400)
		snprintf(buf, len, "%lldd %lldh", (long long)(s / 86400),
			 (long long)(s % 86400 / 3600));
	else if (s >= 3600)
		snprintf(buf, len, "%lldh %lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else if (s >= 60)
		snprintf(buf, len, "%lldm %llds", (long long)(s / 60),
			 (long long)(s % 60));
	else
		snprintf(buf, len, "%llds", (long long)s);
	return buf;
}

int64_t cli_view_now(void)
{
	const ht_clock *ck = util_clock_system();
	return ck->now_ms(ck->ctx);
}

json_t *cli_view_jtime(int64_t ms)
{
	return ms ? cli_time_json(ms) : json_null();
}

json_t *cli_view_jid(const record *r)
{
	char hex[CLI_HEX_ID];
	return r ? json_string(cli_hex_id(r, hex)) : json_null();
}

/* Who signed a record, when: the keys every view object shares. */
static void put_origin(json_t *j, const record *r)
{
	const Hutong__Header *h = record_header(r);
	json_object_set_new(j, "id", cli_view_jid(r));
	json_object_set_new(j, "origin", json_string(h->origin_region));
	json_object_set_new(j, "node", json_string(h->origin_node));
	json_object_set_new(j, "seq", json_integer((json_int_t)h->seq));
	json_object_set_new(j, "created", cli_view_jtime(h->created_ms));
	json_object_set_new(j, "author", json_string(h->author));
}

static json_t *fixes_json(const view_version *v)
{
	json_t *a = json_array();
	for (size_t i = 0; i < v->n_fixes; i++) {
		const view_fix *f = &v->fixes[i];
		json_t *j = json_object();
		put_origin(j, f->rec);
		json_object_set_new(j, "retract", json_boolean(f->retract));
		json_object_set_new(
		    j, "reason",
		    json_string(record_body(f->rec)->correction->reason));
		json_object_set_new(j, "applied", json_boolean(f->applied));
		if (!f->applied)
			json_object_set_new(j, "not_applied",
					    json_string(f->reason));
		json_array_append_new(a, j);
	}
	return a;
}

void cli_view_put_version(json_t *j, const view_version *v)
{
	put_origin(j, v->rec);
	json_object_set_new(j, "retracted", json_boolean(v->retracted));
	json_object_set_new(j, "amended_by", cli_view_jid(v->amended_by));
	json_object_set_new(j, "corrections", fixes_json(v));
}

json_t *cli_view_msg(const void *m)
{
	return m ? json_from_message(m, JSON_BYTES_HEX) : json_null();
}

json_t *cli_view_people(const Hutong__Person *const *p, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, cli_view_msg(&p[i]->base));
	return a;
}

void cli_view_print_people(const char *label, const Hutong__Person *const *p,
			   size_t n)
{
	printf("%-10s", label);
	if (n == 0)
		printf(" -");
	for (size_t i = 0; i < n; i++)
		printf("%s %s%s%s%s%s", i ? "," : "", p[i]->name,
		       p[i]->id_number[0] ? " " : "", p[i]->id_number,
		       p[i]->phone[0] ? " " : "", p[i]->phone);
	printf("\n");
}

void cli_view_print_fixes(const view_version *v, const char *indent)
{
	char hex[CLI_HEX_ID], t[CLI_TIME_MAX];
	for (size_t i = 0; i < v->n_fixes; i++) {
		const view_fix *f = &v->fixes[i];
		printf("%s%s %.16s %s %s: %s%s%s\n", indent,
		       f->retract ? "retraction" : "amendment",
		       cli_hex_id(f->rec, hex),
		       cli_view_time(record_header(f->rec)->created_ms, t),
		       record_header(f->rec)->origin_region,
		       record_body(f->rec)->correction->reason,
		       f->applied ? "" : "  NOT APPLIED: ",
		       f->applied ? "" : f->reason);
	}
}

int cli_view_run(cli *c, const cli_view_sub *subs, size_t n, const char *group,
		 int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		FILE *f = argc < 2 ? stderr : stdout;
		fprintf(f, "usage:\n");
		for (size_t i = 0; i < n; i++)
			fprintf(f, "  hutong -d NODEDIR %s\n", subs[i].usage);
		fprintf(f, "\n'hutong %s SUBCOMMAND --help' says more.\n",
			group);
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (size_t i = 0; i < n; i++)
		if (strcmp(subs[i].name, argv[1]) == 0)
			return subs[i].fn(c, argc - 1, argv + 1);
	return cli_usage(c, "unknown subcommand '%s'", argv[1]);
}

const char *cli_view_level(int level)
{
	static const char *names[] = {"-", "low", "medium", "high", "critical"};
	return level >= 0 && level <= 4 ? names[level] : "?";
}
