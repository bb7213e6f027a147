/*
 * test_log: one event per line, and values quoted so that nothing a peer
 * sends can end a field or a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "log.h"

static void test_quote(void)
{
	char q[LOG_QUOTE_MAX];
	CHECK_STR(log_quote(q, sizeof(q), "nanjing"), "\"nanjing\"");
	CHECK_STR(log_quote(q, sizeof(q), ""), "\"\"");
	CHECK_STR(log_quote(q, sizeof(q), NULL), "\"\"");
	CHECK_STR(log_quote(q, sizeof(q), "L\"; rm -rf / #"),
		  "\"L\\\"; rm -rf / #\"");
	CHECK_STR(log_quote(q, sizeof(q), "a\\b"), "\"a\\\\b\"");
	CHECK_STR(log_quote(q, sizeof(q), "a\nb\rc\td"), "\"a\\nb\\rc\\td\"");
	CHECK_STR(log_quote(q, sizeof(q), "\x1b[2J"), "\"\\u{001B}[2J\"");
	CHECK_STR(log_quote(q, sizeof(q), "x\xe2\x80\xaey"), "\"x\\u{202E}y\"");
	CHECK_STR(log_quote(q, sizeof(q), "\xc2\x85"), "\"\\u{0085}\"");
	CHECK_STR(log_quote(q, sizeof(q), "南京"), "\"南京\"");
	CHECK_STR(log_quote(q, sizeof(q), "a\xff"), "\"a\\xff\"");
	/* too long: cut at a character, still closed */
	char small[12];
	CHECK_STR(log_quote(small, sizeof(small), "abcdefghijklmnop"),
		  "\"abcdef...\"");
	CHECK_STR(log_quote(small, sizeof(small), "南京南京"), "\"南京...\"");
	CHECK_STR(log_quote(small, sizeof(small), "abcdefghi"),
		  "\"abcdefghi\"");
	CHECK_STR(log_quote(small, sizeof(small), "\"\"\"\"\""),
		  "\"\\\"\\\"\\\"...\"");
	char tiny[4] = "xyz";
	CHECK_STR(log_quote(tiny, sizeof(tiny), "abc"), "");
}

static void test_line(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ht_log *lg = log_new(f, LOG_INFO, NULL);
	char q[LOG_QUOTE_MAX];
	log_info(lg, "peer name=%s", log_quote(q, sizeof(q), "L\"\nwarn x"));
	log_info(lg, "raw name=%s", "a\x1b[2Jb\nc");
	log_free(&lg);
	fclose(f);
	CHECK_HAS(buf, " info peer name=\"L\\\"\\nwarn x\"\n");
	CHECK_HAS(buf, " info raw name=a?[2Jb c\n");
	size_t lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	CHECK_EQ_INT(lines, 2);
	free(buf);
}

static void test_token(void)
{
	char q[LOG_QUOTE_MAX];
	CHECK_STR(log_token(q, sizeof(q), "320100"), "320100");
	CHECK_STR(log_token(q, sizeof(q), "/var/lib/hutong/ledger.db"),
		  "/var/lib/hutong/ledger.db");
	CHECK_STR(log_token(q, sizeof(q), "tcp://127.0.0.1:7000"),
		  "tcp://127.0.0.1:7000");
	CHECK_STR(log_token(q, sizeof(q), ""), "\"\"");
	CHECK_STR(log_token(q, sizeof(q), NULL), "\"\"");
	CHECK_STR(log_token(q, sizeof(q), "/tmp/a b"), "\"/tmp/a b\"");
	CHECK_STR(log_token(q, sizeof(q), "32\"0100"), "\"32\\\"0100\"");
	CHECK_STR(log_token(q, sizeof(q), "a\nb"), "\"a\\nb\"");
}

/* A peer's organization name and an author with a newline, through the
 * LOG_Q and LOG_T helpers: one line, quotes escaped, nothing forged. */
static void test_helpers(void)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	ht_log *lg = log_new(f, LOG_INFO, NULL);
	log_info(lg, "refused org=%s author=%s origin=%s",
		 LOG_Q("L\"; rm -rf / #"), LOG_Q("li\ninfo stored id=00"),
		 LOG_T("32\" x=1"));
	log_free(&lg);
	fclose(f);
	CHECK_HAS(buf, " info refused org=\"L\\\"; rm -rf / #\" "
		       "author=\"li\\ninfo stored id=00\" "
		       "origin=\"32\\\" x=1\"\n");
	size_t lines = 0;
	for (char *p = buf; *p; p++)
		lines += *p == '\n';
	CHECK_EQ_INT(lines, 1);
	free(buf);
}

int main(void)
{
	test_quote();
	test_line();
	test_token();
	test_helpers();
	return check_done("test_log");
}
