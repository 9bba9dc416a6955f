/* sqlnames.h — names a SQL text creates, found with the tokenizer (so
 * literals, comments and dollar quotes never fool it). */
#ifndef MIG_SQLNAMES_H
#define MIG_SQLNAMES_H
#include <stddef.h>

/* The names of the indexes `CREATE [UNIQUE] INDEX [CONCURRENTLY] [IF NOT
 * EXISTS] name` statements of sql create, as written (possibly quoted or
 * schema-qualified), NUL-terminated into out[i] (truncated to size);
 * returns how many were found (at most max). */
size_t mig_sql_created_indexes(const char *sql, char (*out)[256], size_t max);

#endif
