/* fleet.h — one migrun command over many targets (--targets FILE,
 * --targets-query SQL): the targets are read and checked first (the same
 * target twice, a schema on a SQLite file, an unsupported URL: exit 2
 * before anything runs), then each runs in a worker process of its own
 * (fork, never exec: the URLs and their passwords stay in memory), up to
 * --parallel N at a time, with its own connection, lock, tracking tables,
 * journal and undo. The parent reads each worker's JSON events from a
 * pipe, prints them as progress lines (or, with --json, forwards them
 * with a "target" key), and ends with a summary table and one exit code:
 * 4 if any target could not be undone, else 1 if any failed, else 3 if
 * any was refused, else 2, else 0. See FLEETS in doc/migrun.1. */
#ifndef MIG_FLEET_H
#define MIG_FLEET_H
#include "run.h"

/* The journal of one target of a fleet: beside the fleet's journal
 * (JOURNAL minus ".db", then ".fleet/"), named after the target (its
 * masked URL and schema, with a hash of them). Malloc'd. */
char *mig_fleet_journal(const char *journal, const char *display);

#endif
