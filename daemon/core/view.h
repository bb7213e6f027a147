/*
 * view: the reconciled views people ask about, folded from the records of
 * the ledger: the state of each repatriation case, the trail of each fleeing
 * organization, the current version of each lead, and the alerts that
 * concern a region. Every view is a pure function of the set of records
 * held (never of their arrival order or of local arrival facts), so nodes
 * that hold the same records compute the same views and print the same
 * view digests.
 *
 * Records are fetched through the ledger's term index (case:ID, org:ID,
 * orgname:KEY, person:KEY, target:HEX, related:HEX, dest:CODE ...), so a
 * view of one case, organization or lead costs a handful of indexed lookups
 * whatever the size of the ledger. Only records whose bodies this node holds
 * are indexed, so a node not entitled to some bodies sees less.
 *
 * Ordering. Wherever records of several bureaus meet (the steps of a case,
 * the corrections of a record, a trail) they are taken in the order of
 * their signed headers: created_ms, then origin region, then seq. The
 * order is total and the same on every node.
 *
 * Corrections. A correction applies only if it comes from the corrected
 * record's origin and its replacement is the same kind, keeping the case id,
 * step, from and to regions of a repatriation step and the org id of an
 * organization record. Applied corrections are taken in order: an amendment
 * makes its replacement the current version (and lifts an earlier
 * retraction), a retraction marks the record retracted. Nothing is hidden:
 * every correction is listed with whether it applied and why not.
 *
 * Repatriation cases. States and steps, with the region that may take each
 * (FROM: the region where the people were found, which requests, departs
 * with them and hands them over; TO: their home region):
 *
 *   none       --request (FROM)--> requested
 *   requested  --accept (TO)--> accepted | --reject (TO)--> rejected
 *              | --cancel (FROM)--> cancelled
 *   accepted   --depart (FROM)--> departed | --cancel (FROM)--> cancelled
 *   departed   --hand-over (FROM)--> handed-over
 *   handed-over --receive (TO)--> received
 *
 * "Taken by region R" means the step's record has origin_region == R,
 * exactly (a district bureau does not act for its city). FROM and TO are
 * fixed by the first applied request; a later step must name the same two
 * regions. rejected, cancelled and received are final. A step that is not
 * valid where it falls in the order stays in the ledger and in the view,
 * marked not applied with the reason.
 *
 * Neighbouring regions (alerts). A suspected destination D concerns region
 * R when D names R (D == R, or one contains the other: province xx0000,
 * city xxxx00), when D and R are in the same province, or when their
 * provinces share a border (region_adj.c, generated from
 * tests/sim/data/province-adjacency.tsv by scripts/gen_region_adj.sh).
 *
 * Linking organizations. An officer links two organization ids (the same
 * group under two ids) with an intelligence record whose `related` list
 * names a record of each (e.g. their alerts): `hutong org link A B`.
 * Duplicate suggestions are organization ids whose name or an alias has the
 * same util_name_key as one of this organization's, not yet linked.
 *
 * Digests. Each view's digest is SHA-256 over H(item_1) || H(item_2) ...
 * with the items sorted (cases by case id, organizations by org id, leads
 * by record id, bytewise) and H(item) the SHA-256 of the item's canonical
 * serialization: a sequence of fields, each a one-byte tag, a 4-byte
 * big-endian length and the bytes (integers as 8-byte big-endian). What
 * goes in is what the views show, except what depends on the reader's
 * clock (time in the current state).
 */
#ifndef HT_VIEW_H
#define HT_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "ledger.h"
#include "record.h"
#include "util.h"

#define VIEW_DIGEST_BYTES 32
#define VIEW_REASON_MAX 384
#define VIEW_MAX_FOLD 100000  /* records folded into one case, org or lead */
#define VIEW_MAX_LIST 4000000 /* leads or alerts one listing sorts */

typedef struct view_store view_store; /* the records a view holds */

/* ---- a record with its corrections ---- */

/* One correction of a record, applied or not. */
typedef struct view_fix {
	const record *rec; /* the correction */
	bool applied;
	bool retract;		      /* a retraction (else an amendment) */
	char reason[VIEW_REASON_MAX]; /* why not applied */
} view_fix;

/* A record as it stands after its corrections. */
typedef struct view_version {
	const record *rec;	  /* the original record */
	const Hutong__Body *body; /* current version: the original body or
				   * the last applied replacement */
	const record *amended_by; /* correction giving body, or NULL */
	bool retracted;
	view_fix *fixes; /* every correction of rec, in order */
	size_t n_fixes;
} view_version;

/* ---- repatriation cases ---- */

typedef enum view_state {
	VIEW_STATE_NONE = 0, /* no request applied */
	VIEW_STATE_REQUESTED,
	VIEW_STATE_ACCEPTED,
	VIEW_STATE_REJECTED,
	VIEW_STATE_DEPARTED,
	VIEW_STATE_HANDED_OVER,
	VIEW_STATE_RECEIVED,
	VIEW_STATE_CANCELLED,
	VIEW_STATE_COUNT
} view_state;

/* "none", "requested", ..., "handed-over", ...; parse returns -1 if
 * unknown. A final state takes no further step. */
const char *view_state_name(int state);
int view_state_parse(const char *name);
bool view_state_is_final(int state);
/* "request", "accept", ..., "hand-over" (Hutong__Step). */
const char *view_step_name(int step);

/* One step of a case as the fold judged it. */
typedef struct view_step {
	view_version v;
	const Hutong__Repatriation *body; /* v.body's repatriation */
	bool applied;
	char reason[VIEW_REASON_MAX]; /* why not applied */
	view_state state;	      /* the case's state after it */
} view_step;

/* A span of time in one state: [since, until); until 0 = current. */
typedef struct view_stay {
	view_state state;
	int64_t since_ms, until_ms; /* created_ms of the steps */
} view_stay;

typedef struct view_case {
	char id[RECORD_MAX_NAME + 1];
	view_state state;
	char from[HT_REGION_LEN + 1]; /* set by the applied request */
	char to[HT_REGION_LEN + 1];
	int64_t opened_ms; /* the request's created_ms */
	int64_t since_ms;  /* when the current state began */
	view_step *steps;  /* in fold order */
	size_t n_steps;
	view_stay *stays; /* states passed through, in order */
	size_t n_stays;
	const Hutong__Person **people; /* of applied steps, distinct */
	size_t n_people;
	view_store *store;
} view_case;

/* Fold case `id` from the ledger. HT_ENOTFOUND if no step names it. *out is
 * the caller's (view_case_free). */
int view_case_load(ledger *l, const char *id, view_case **out, ht_err *err);
void view_case_free(view_case **c);

/* The steps allowed now, "depart (by 450100), cancel (by 450100)", or
 * "none (the case is closed)". Returns buf. */
char *view_case_allowed(const view_case *c, char *buf, size_t len);

/* Is the case in a non-final state that began more than dur_ms before
 * now_ms? */
bool view_case_overdue(const view_case *c, int64_t now_ms, int64_t dur_ms);

/* Each case, sorted by id. fn returns 0 to go on (else stop, returned);
 * the case is borrowed. */
typedef int (*view_case_fn)(void *ctx, const view_case *c);
int view_case_each(ledger *l, view_case_fn fn, void *ctx, ht_err *err);

/* The submit-time check (fits node_check_fn): a repatriation step this
 * node is about to store must apply where it falls; a correction of a
 * repatriation step must keep its case, step and regions. err names the
 * case, its state and the allowed steps:
 * "case NN-1: state accepted; allowed steps: depart (by 450100), ...". */
int view_check_record(void *ctx, ledger *l, const record *r, ht_err *err);

/* ---- fleeing organizations ---- */

typedef struct view_receipt {
	char node[HT_REGION_LEN + 1]; /* the receiving bureau's region */
	int64_t ms;		      /* its earliest receipt covering it */
} view_receipt;

/* One alert or sighting in an organization's trail. */
typedef struct view_trail {
	view_version v;
	const Hutong__FleeingOrganization *body; /* v.body's */
	const char *region;	/* last seen region, else the origin's */
	int64_t seen_ms;	/* last_seen_ms, else created_ms */
	view_receipt *receipts; /* alerts only: who received it, by node */
	size_t n_receipts;
} view_trail;

typedef struct view_link {
	char org[RECORD_MAX_NAME + 1]; /* the linked organization */
	const record *by;	       /* the linking intelligence record */
} view_link;

typedef struct view_dup {
	char org[RECORD_MAX_NAME + 1]; /* a likely duplicate */
	char key[RECORD_MAX_TERM];     /* the shared name key */
	char name[RECORD_MAX_SHORT + 1];
} view_dup;

typedef struct view_org {
	char id[RECORD_MAX_NAME + 1];
	const char *name;	 /* of the latest alert (else latest record) */
	int level;		 /* AlertLevel of the latest alert */
	uint32_t members;	 /* latest estimate given */
	const char *last_region; /* of the latest trail entry */
	int64_t last_seen_ms;
	view_trail *trail; /* in order; retracted entries included */
	size_t n_trail;
	const char **aliases; /* distinct, in order of appearance */
	size_t n_aliases;
	const Hutong__Person **leaders; /* distinct */
	size_t n_leaders;
	char (*dests)[HT_REGION_LEN + 1]; /* suspected destinations, sorted */
	size_t n_dests;
	view_receipt *received; /* union over alerts: earliest per node */
	size_t n_received;
	view_link *links; /* sorted by org */
	size_t n_links;
	view_dup *dups; /* sorted by org */
	size_t n_dups;
	view_store *store;
} view_org;

enum {
	VIEW_ORG_FULL = 0,
	VIEW_ORG_BRIEF = 1
}; /* brief: no receipts,
    * links or duplicates */

int view_org_load(ledger *l, const char *id, int flags, view_org **out,
		  ht_err *err);
void view_org_free(view_org **o);
typedef int (*view_org_fn)(void *ctx, const view_org *o);
int view_org_each(ledger *l, int flags, view_org_fn fn, void *ctx, ht_err *err);

/* ---- leads ---- */

typedef struct view_lead {
	view_version v;
	const Hutong__Intelligence *body; /* current version */
	view_store *store;
} view_lead;

/* The lead whose original record is id, or which a correction with that
 * id corrects. HT_ENOTFOUND if neither is an intelligence record. */
int view_lead_load(ledger *l, const uint8_t id[RECORD_ID_BYTES],
		   view_lead **out, ht_err *err);
void view_lead_free(view_lead **ld);

/* Search terms, all optional; a lead matches when each given term is
 * named by one of its versions (original or amendment), so an amendment
 * never hides a lead from a search. Names are matched by util_name_key. */
typedef struct view_query {
	const char *org, *person, *idno, *phone, *region;
} view_query;

/* Matching leads (every lead when q has no term) in (created_ms, origin,
 * seq) order; fn as for cases. */
typedef int (*view_lead_fn)(void *ctx, const view_lead *ld);
int view_lead_search(ledger *l, const view_query *q, view_lead_fn fn, void *ctx,
		     ht_err *err);

/* ---- alerts for a region ---- */

typedef enum view_relation {
	VIEW_REL_NONE = 0,
	VIEW_REL_DESTINATION, /* the destination names this region */
	VIEW_REL_PROVINCE,    /* a destination in the same province */
	VIEW_REL_ADJACENT,    /* a destination in a bordering province */
} view_relation;

const char *view_relation_name(int rel); /* "destination", ... */
/* How destination dest concerns region (both six-digit codes). */
view_relation view_region_relation(const char *region, const char *dest);
/* Do the two provinces (codes' first two digits) share a border? */
bool view_provinces_adjacent(const char *a, const char *b);

/* The closest relation of any destination in o to region; *dest (may be
 * NULL) gets that destination. */
view_relation view_org_concerns(const Hutong__FleeingOrganization *o,
				const char *region, const char **dest);

/* The organization record a stored record carries: its own body, or a
 * correction's replacement. NULL for other records. */
const Hutong__FleeingOrganization *view_record_org(const record *r);

typedef struct view_alert {
	view_version v;
	const Hutong__FleeingOrganization *body; /* current version */
	view_relation rel;
	const char *dest; /* the destination that concerns the region */
} view_alert;

/* Alerts and sightings whose current version concerns region, newest
 * first (created_ms, origin, seq descending). fn as for cases; the alert
 * is borrowed. */
typedef int (*view_alert_fn)(void *ctx, const view_alert *a);
int view_alerts(ledger *l, const char *region, view_alert_fn fn, void *ctx,
		ht_err *err);

/* ---- digests ---- */

typedef struct view_digests {
	uint8_t cases[VIEW_DIGEST_BYTES];
	uint8_t orgs[VIEW_DIGEST_BYTES];
	uint8_t leads[VIEW_DIGEST_BYTES];
	uint64_t n_cases, n_orgs, n_leads;
} view_digests;

/* Fold every case, organization and lead and hash them (see the top of
 * this file). Reads one snapshot of the ledger when it can (outside a
 * write transaction). */
int view_digest(ledger *l, view_digests *out, ht_err *err);

#endif
