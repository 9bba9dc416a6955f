/* pq.h — libpq, loaded when a PostgreSQL target is first used rather than
 * when migrun starts: libpq and what it links (GnuTLS, Kerberos, LDAP, …)
 * cost about 18 ms of dynamic loading per start on a small VM, which a
 * SQLite target or `migrun status --help` should not pay. Code includes
 * this header instead of <libpq-fe.h> and calls PQ… as usual: each name
 * below goes through mig_pq(), which dlopens libpq once (or exits 3 naming
 * the missing library: no connection exists yet at the first call). A PQ
 * function used but missing from the list fails to link (migrun is not
 * linked with -lpq), so the list cannot fall behind the code. */
#ifndef MIG_PQ_H
#define MIG_PQ_H
#include <libpq-fe.h>

#define MIG_PQ_FUNCS(X) \
    X(PQbackendPID) \
    X(PQcancel) \
    X(PQclear) \
    X(PQcmdStatus) \
    X(PQcmdTuples) \
    X(PQconnectdbParams) \
    X(PQconninfoFree) \
    X(PQconninfoParse) \
    X(PQdb) \
    X(PQenterPipelineMode) \
    X(PQerrorMessage) \
    X(PQescapeIdentifier) \
    X(PQescapeLiteral) \
    X(PQexec) \
    X(PQexitPipelineMode) \
    X(PQfinish) \
    X(PQfreeCancel) \
    X(PQfreemem) \
    X(PQftype) \
    X(PQgetCancel) \
    X(PQgetResult) \
    X(PQgetisnull) \
    X(PQgetvalue) \
    X(PQhost) \
    X(PQnfields) \
    X(PQntuples) \
    X(PQpass) \
    X(PQpipelineStatus) \
    X(PQpipelineSync) \
    X(PQport) \
    X(PQresultErrorField) \
    X(PQresultStatus) \
    X(PQsendQuery) \
    X(PQsendQueryParams) \
    X(PQserverVersion) \
    X(PQsetNoticeReceiver) \
    X(PQsocket) \
    X(PQstatus) \
    X(PQtransactionStatus) \
    X(PQuser)

struct mig_pq {
#define MIG_PQ_FIELD(f) __typeof__(f) *f;
    MIG_PQ_FUNCS(MIG_PQ_FIELD)
#undef MIG_PQ_FIELD
};

/* The loaded functions (libpq loaded at the first call). */
const struct mig_pq *mig_pq(void);

#ifndef MIG_PQ_LOADER
#define PQbackendPID (*mig_pq()->PQbackendPID)
#define PQcancel (*mig_pq()->PQcancel)
#define PQclear (*mig_pq()->PQclear)
#define PQcmdStatus (*mig_pq()->PQcmdStatus)
#define PQcmdTuples (*mig_pq()->PQcmdTuples)
#define PQconnectdbParams (*mig_pq()->PQconnectdbParams)
#define PQconninfoFree (*mig_pq()->PQconninfoFree)
#define PQconninfoParse (*mig_pq()->PQconninfoParse)
#define PQdb (*mig_pq()->PQdb)
#define PQenterPipelineMode (*mig_pq()->PQenterPipelineMode)
#define PQerrorMessage (*mig_pq()->PQerrorMessage)
#define PQescapeIdentifier (*mig_pq()->PQescapeIdentifier)
#define PQescapeLiteral (*mig_pq()->PQescapeLiteral)
#define PQexec (*mig_pq()->PQexec)
#define PQexitPipelineMode (*mig_pq()->PQexitPipelineMode)
#define PQfinish (*mig_pq()->PQfinish)
#define PQfreeCancel (*mig_pq()->PQfreeCancel)
#define PQfreemem (*mig_pq()->PQfreemem)
#define PQftype (*mig_pq()->PQftype)
#define PQgetCancel (*mig_pq()->PQgetCancel)
#define PQgetResult (*mig_pq()->PQgetResult)
#define PQgetisnull (*mig_pq()->PQgetisnull)
#define PQgetvalue (*mig_pq()->PQgetvalue)
#define PQhost (*mig_pq()->PQhost)
#define PQnfields (*mig_pq()->PQnfields)
#define PQntuples (*mig_pq()->PQntuples)
#define PQpass (*mig_pq()->PQpass)
#define PQpipelineStatus (*mig_pq()->PQpipelineStatus)
#define PQpipelineSync (*mig_pq()->PQpipelineSync)
#define PQport (*mig_pq()->PQport)
#define PQresultErrorField (*mig_pq()->PQresultErrorField)
#define PQresultStatus (*mig_pq()->PQresultStatus)
#define PQsendQuery (*mig_pq()->PQsendQuery)
#define PQsendQueryParams (*mig_pq()->PQsendQueryParams)
#define PQserverVersion (*mig_pq()->PQserverVersion)
#define PQsetNoticeReceiver (*mig_pq()->PQsetNoticeReceiver)
#define PQsocket (*mig_pq()->PQsocket)
#define PQstatus (*mig_pq()->PQstatus)
#define PQtransactionStatus (*mig_pq()->PQtransactionStatus)
#define PQuser (*mig_pq()->PQuser)
#endif

#endif
