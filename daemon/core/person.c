/*
 * person: identity document numbers and phone numbers. Each rule says what
 * is wrong in words an officer can act on, naming the character or digit at
 * fault, because these are typed by hand and copied from paper.
 */
#include "person.h"

#include <stdio.h>
#include <string.h>

#include "region.h"

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

static bool is_alnum(char c)
{
	return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* How many of s's leading characters are digits. */
static size_t digit_run(const char *s)
{
	size_t n = 0;
	while (is_digit(s[n]))
		n++;
	return n;
}

/* The value of the n digits at s. */
static int number(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++)
		v = v * 10 + (s[i] - '0');
	return v;
}

char person_id_check_char(const char *id)
{
	static const int weights[17] = {7, 9, 10, 5,  8, 4, 2, 1, 6,
					3, 7, 9,  10, 5, 8, 4, 2};
	int sum = 0;
	if (id == NULL || strlen(id) < 17 || digit_run(id) < 17)
		return 0;
	for (int i = 0; i < 17; i++)
		sum += (id[i] - '0') * weights[i];
	return "10X98765432"[sum % 11];
}

/* Digits 7-14 of a resident identity number: YYYYMMDD, a real date. */
static int check_birth(const char *id, const char *field, ht_err *err)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y = number(id + 6, 4), m = number(id + 10, 2),
	    d = number(id + 12, 2);
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (y < 1900 || y > 2099)
		return ht_err_set_private(
		    err, HT_EINVAL, field, "year of birth out of range",
		    "year of birth %d is not from 1900 to 2099", y);
	if (m < 1 || m > 12)
		return ht_err_set_private(
		    err, HT_EINVAL, field, "month of birth out of range",
		    "month of birth %02d is not 01-12", m);
	if (d < 1 || d > mdays[m - 1] || (m == 2 && d == 29 && !leap))
		return ht_err_set_private(
		    err, HT_EINVAL, field, "date of birth not a real date",
		    "date of birth %.8s is not a real date", id + 6);
	return 0;
}

static int check_resident_id(const char *id, const char *field, ht_err *err)
{
	size_t n = strlen(id), digits = digit_run(id);
	if (n != PERSON_RESIDENT_ID_LEN)
		return ht_err_set(err, HT_EINVAL, field,
				  "a resident identity number has %d "
				  "characters, got %zu",
				  PERSON_RESIDENT_ID_LEN, n);
	if (digits < 17)
		return ht_err_set(err, HT_EINVAL, field,
				  "character %zu must be a digit", digits + 1);
	if (!region_province_known(id))
		return ht_err_set_private(
		    err, HT_EINVAL, field, "region prefix unknown",
		    "region prefix %.6s names no province", id);
	if (check_birth(id, field, err) != 0)
		return HT_EINVAL;
	char want = person_id_check_char(id);
	if (id[17] != want)
		return ht_err_set_private(
		    err, HT_EINVAL, field, "check character wrong",
		    "check character should be '%c', got '%c'", want,
		    is_alnum(id[17]) ? id[17] : '?');
	return 0;
}

/* Passports, permits and other documents: a charset and a length. */
static int check_document(const char *id, bool other, const char *field,
			  ht_err *err)
{
	size_t n = strlen(id);
	size_t min = other ? 1 : PERSON_DOC_MIN;
	size_t max = other ? PERSON_OTHER_MAX : PERSON_DOC_MAX;
	for (size_t i = 0; i < n; i++)
		if (!is_alnum(id[i]) && !(other && id[i] == '-'))
			return ht_err_set(err, HT_EINVAL, field,
					  "character %zu must be a letter or "
					  "digit%s",
					  i + 1, other ? " or '-'" : "");
	if (n < min || n > max)
		return ht_err_set(err, HT_EINVAL, field,
				  "must be %zu-%zu characters, got %zu", min,
				  max, n);
	return 0;
}

int person_check_id_number(const char *id, Hutong__DocumentType doc,
			   const char *field, ht_err *err)
{
	switch (doc) {
	case HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_UNSPECIFIED:
	case HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_RESIDENT_ID:
		return check_resident_id(id, field, err);
	case HUTONG__DOCUMENT_TYPE__DOCUMENT_TYPE_OTHER:
		return check_document(id, true, field, err);
	default:
		return check_document(id, false, field, err);
	}
}

/* 0AA[A][-]NNNNNNN[N][(-|#)E...]: digits are counted, not area codes
 * looked up, so without the '-' any split of 10-12 digits is taken. */
static int check_landline(const char *p, const char *field, ht_err *err)
{
	static const char form[] = "a landline is 0, a 2-3 digit area code, "
				   "an optional '-' and a 7-8 digit number";
	size_t a = digit_run(p), b = 0, e = 0;
	if (p[1] == '0')
		return ht_err_set(err, HT_EINVAL, field,
				  "write an international number as '+' and "
				  "digits, not 00");
	if (p[a] == '-')
		b = digit_run(p + a + 1);
	bool ok =
	    b > 0 ? a >= 3 && a <= 4 && b >= 7 && b <= 8 : a >= 10 && a <= 12;
	const char *ext = p + a + (b > 0 ? 1 + b : 0);
	if (ok && (*ext == '-' || *ext == '#')) {
		e = digit_run(ext + 1);
		ok = e >= 1 && e <= 6 && ext[1 + e] == '\0';
	} else if (*ext != '\0') {
		ok = false;
	}
	return ok ? 0
		  : ht_err_set(err, HT_EINVAL, field, "%s%s", form,
			       ", then optionally '-' or '#' and a 1-6 "
			       "digit extension");
}

int person_check_phone(const char *p, const char *field, ht_err *err)
{
	size_t n = strlen(p), d = digit_run(p[0] == '+' ? p + 1 : p);
	for (size_t i = 0; i < n; i++)
		if (!is_digit(p[i]) && !(i == 0 && p[i] == '+') &&
		    p[i] != '-' && p[i] != '#')
			return ht_err_set(
			    err, HT_EINVAL, field,
			    "'%c' at byte %zu: write digits "
			    "only, no spaces",
			    p[i] >= ' ' && p[i] < 0x7f ? p[i] : '?', i);
	if (n > PERSON_PHONE_MAX)
		return ht_err_set(err, HT_EINVAL, field,
				  "longer than %d characters (%zu)",
				  PERSON_PHONE_MAX, n);
	if (p[0] == '+')
		return d >= 6 && d <= 15 && d + 1 == n
			   ? 0
			   : ht_err_set(err, HT_EINVAL, field,
					"'+' must be followed by 6-15 "
					"digits and nothing else");
	if (p[0] == '0')
		return check_landline(p, field, err);
	if (p[0] == '1' && (d != 11 || n != 11))
		return ht_err_set(err, HT_EINVAL, field,
				  "a mobile number has 11 digits, got %zu", n);
	if (p[0] == '1' && (p[1] < '3' || p[1] > '9'))
		return ht_err_set(err, HT_EINVAL, field,
				  "a mobile number starts 13-19, got '%.2s'",
				  p);
	if (p[0] == '1')
		return 0;
	return ht_err_set(err, HT_EINVAL, field,
			  "must be a mobile (1 and 10 digits), a landline (0 "
			  "and an area code) or '+' and 6-15 digits");
}
