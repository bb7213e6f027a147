/*
 * err: the error codes every fallible hutong function returns, and the
 * caller-provided error struct that validators fill with the field at fault
 * and the reason, so the CLI can print "region: must be six digits, got '32'"
 * and the daemon can log the exact cause once, where the decision is made.
 */
#ifndef HT_ERR_H
#define HT_ERR_H

#include <stddef.h>

enum {
	HT_OK = 0,
	HT_EINVAL = -1,	   /* malformed or invalid input */
	HT_ENOMEM = -2,	   /* allocation failed */
	HT_EIO = -3,	   /* file or database I/O failed */
	HT_ECRYPTO = -4,   /* bad signature, key or hash */
	HT_ENOTFOUND = -5, /* no such record, origin, file */
	HT_EEXIST = -6,	   /* refusing to overwrite */
	HT_EGAP = -7,	   /* record is ahead of a gap in its origin's chain */
	HT_EFORK = -8,	   /* a different record holds that origin and seq */
	HT_ELIMIT = -9,	   /* input exceeds a size or count limit */
	HT_ECORRUPT = -10, /* stored data fails its checks */
	HT_EFULL = -11,	   /* disk full */
	HT_ETRUST = -12,   /* certificate or trust failure */
	HT_ESTATE = -13,   /* operation not valid in the current state */
	HT_EUNAVAIL = -14, /* daemon or peer not reachable */
};

#define HT_ERR_FIELD_MAX 64
#define HT_ERR_MSG_MAX 512
#define HT_ERR_BRIEF_MAX 64

/* Where and why something failed. `field` may be empty when no single field
 * is at fault. `brief`, when not empty, is the reason's class without the
 * value (a reason quoting personal data, such as an identity number's date
 * of birth, sets it): what a log line about a peer's record says instead of
 * msg. Always NUL-terminated. */
typedef struct ht_err {
	char field[HT_ERR_FIELD_MAX];
	char msg[HT_ERR_MSG_MAX];
	char brief[HT_ERR_BRIEF_MAX];
} ht_err;

#if defined(__GNUC__)
#define HT_PRINTF(a, b) __attribute__((format(printf, a, b)))
#define HT_WUR __attribute__((warn_unused_result))
#else
#define HT_PRINTF(a, b)
#define HT_WUR
#endif

/* Short English name of a code ("invalid input", "fork", ...). Never NULL. */
const char *ht_strerror(int code);

/* Fill `e` (if not NULL) with field and formatted reason. Returns `code` so a
 * caller can write `return ht_err_set(e, HT_EINVAL, "region", "...")`. */
int ht_err_set(ht_err *e, int code, const char *field, const char *fmt, ...)
    HT_PRINTF(4, 5);

/* ht_err_set with a brief reason that names no value (see ht_err). */
int ht_err_set_private(ht_err *e, int code, const char *field,
		       const char *brief, const char *fmt, ...) HT_PRINTF(5, 6);

/* Clear `e` (if not NULL). */
void ht_err_clear(ht_err *e);

/* Format "field: msg" (or "msg" when field is empty) into buf. Returns buf. */
const char *ht_err_str(const ht_err *e, char *buf, size_t len);

/* As ht_err_str, with the brief reason in place of msg when there is one:
 * "people[0].id_number: check character wrong". For log lines about records
 * from peers, which must not carry personal data. Returns buf. */
const char *ht_err_str_private(const ht_err *e, char *buf, size_t len);

#endif
