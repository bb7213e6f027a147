/*
 * person: the rules for what identifies a person in a record: identity
 * document numbers by document type (GB 11643 resident identity numbers
 * with their check character, date of birth and region prefix; passports
 * and permits by charset and length) and phone numbers (mainland mobile,
 * landline, or international).
 */
#ifndef HT_PERSON_H
#define HT_PERSON_H

#include <stdbool.h>

#include "err.h"
#include "hutong.pb-c.h"

#define PERSON_RESIDENT_ID_LEN 18 /* GB 11643 */
#define PERSON_DOC_MIN 5	  /* passport and permit numbers */
#define PERSON_DOC_MAX 20
#define PERSON_OTHER_MAX 32 /* DOCUMENT_TYPE_OTHER */
#define PERSON_PHONE_MAX 20 /* 0AAA-NNNNNNNN-EEEEEE */

/* Check id (non-empty) as a number of document type doc; 0 (unspecified)
 * is a resident identity card. Resident identity numbers: 17 digits and a
 * check character (0-9 or X) that matches the GB 11643 checksum ("check
 * character should be 'X', got '3'"), a real date of birth from
 * 1900-01-01 to 2099-12-31, and a province (first two digits) in the GB/T
 * 2260 table. Passports, Hong Kong and Macao permits and Taiwan permits:
 * PERSON_DOC_MIN to PERSON_DOC_MAX ASCII letters and digits; other
 * documents: 1 to PERSON_OTHER_MAX letters, digits and '-'. HT_EINVAL with
 * err naming field on failure. */
int person_check_id_number(const char *id, Hutong__DocumentType doc,
			   const char *field, ht_err *err);

/* The GB 11643 check character of the first 17 digits of id ('0'-'9' or
 * 'X'), or 0 if they are not 17 digits. */
char person_id_check_char(const char *id);

/* Check a phone number (non-empty): a mainland mobile (11 digits,
 * 1[3-9]...), a landline (0 and a 2-3 digit area code, an optional '-',
 * a 7-8 digit number, optionally '-' or '#' and a 1-6 digit extension), or
 * '+' and 6-15 digits. No spaces. HT_EINVAL with the reason otherwise. */
int person_check_phone(const char *phone, const char *field, ht_err *err);

#endif
