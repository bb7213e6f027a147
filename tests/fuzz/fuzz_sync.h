/*
 * fuzz_sync.h: the input format fuzz_sync reads and gen_sync_corpus writes.
 * An input is one or more frames, each an encoded SyncMessage (or any
 * bytes), separated by FUZZ_SYNC_SEP; an input without it is one frame, so
 * a plain encoded SyncMessage is a valid input.
 */
#ifndef HT_FUZZ_SYNC_H
#define HT_FUZZ_SYNC_H

#define FUZZ_SYNC_SEP "--hutong-frame--"
#define FUZZ_SYNC_SEP_LEN (sizeof(FUZZ_SYNC_SEP) - 1)

/* Regions of the fixture node and of the peer whose records the seeds
 * carry. */
#define FUZZ_SYNC_SELF "320100"
#define FUZZ_SYNC_PEER "430100"

#endif
