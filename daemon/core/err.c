/*
 * err: code names and the error struct. No state beyond the caller's struct.
 */
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	int code;
	const char *name;
} names[] = {
    {HT_OK, "ok"},
    {HT_EINVAL, "invalid input"},
    {HT_ENOMEM, "out of memory"},
    {HT_EIO, "I/O error"},
    {HT_ECRYPTO, "cryptographic check failed"},
    {HT_ENOTFOUND, "not found"},
    {HT_EEXIST, "already exists"},
    {HT_EGAP, "ahead of a gap"},
    {HT_EFORK, "fork"},
    {HT_ELIMIT, "limit exceeded"},
    {HT_ECORRUPT, "corrupt data"},
    {HT_EFULL, "disk full"},
    {HT_ETRUST, "not trusted"},
    {HT_ESTATE, "invalid state"},
    {HT_EUNAVAIL, "unavailable"},
};

const char *ht_strerror(int code)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].code == code)
			return names[i].name;
	return "unknown error";
}

int ht_err_set(ht_err *e, int code, const char *field, const char *fmt, ...)
{
	if (e == NULL)
		return code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	e->brief[0] = '\0';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

int ht_err_set_private(ht_err *e, int code, const char *field,
		       const char *brief, const char *fmt, ...)
{
	if (e == NULL)
		return code;
	snprintf(e->field, sizeof(e->field), "%s", field ? field : "");
	snprintf(e->brief, sizeof(e->brief), "%s", brief);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void ht_err_clear(ht_err *e)
{
	if (e != NULL)
		memset(e, 0, sizeof(*e));
}

const char *ht_err_str(const ht_err *e, char *buf, size_t len)
{
	if (e->field[0] != '\0')
		snprintf(buf, len, "%s: %s", e->field, e->msg);
	else
		snprintf(buf, len, "%s", e->msg);
	return buf;
}

const char *ht_err_str_private(const ht_err *e, char *buf, size_t len)
{
	if (e->brief[0] == '\0')
		return ht_err_str(e, buf, len);
	if (e->field[0] != '\0')
		snprintf(buf, len, "%s: %s", e->field, e->brief);
	else
		snprintf(buf, len, "%s", e->brief);
	return buf;
}
