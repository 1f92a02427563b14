#ifndef DISTRIBUTARY_CMARIADB_SHIM_H
#define DISTRIBUTARY_CMARIADB_SHIM_H
#include <mysql.h>
#include <mariadb_rpl.h>

/* mariadb_rpl_init is a macro over mariadb_rpl_init_ex. */
static inline MARIADB_RPL *dst_rpl_init(MYSQL *mysql) {
    return mariadb_rpl_init_ex(mysql, MARIADB_RPL_VERSION);
}

/* mariadb_rpl_optionsv is variadic: one typed wrapper per option shape. */
static inline int dst_rpl_set_filename(MARIADB_RPL *rpl, const char *name, size_t length) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_FILENAME, name, length);
}
static inline int dst_rpl_set_start(MARIADB_RPL *rpl, unsigned long position) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_START, position);
}
static inline int dst_rpl_set_server_id(MARIADB_RPL *rpl, unsigned int server_id) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_SERVER_ID, server_id);
}
static inline int dst_rpl_set_flags(MARIADB_RPL *rpl, unsigned int flags) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_FLAGS, flags);
}
/* With a host set, mariadb_rpl_open registers the replica (COM_REGISTER_SLAVE), so the
   server lists it in SHOW SLAVE HOSTS with its server_id. */
static inline int dst_rpl_set_host(MARIADB_RPL *rpl, const char *host, unsigned int port) {
    int rc = mariadb_rpl_optionsv(rpl, MARIADB_RPL_HOST, host);
    if (rc == 0) rc = mariadb_rpl_optionsv(rpl, MARIADB_RPL_PORT, port);
    return rc;
}
static inline int dst_rpl_set_verify_checksum(MARIADB_RPL *rpl, unsigned int verify) {
    return mariadb_rpl_optionsv(rpl, MARIADB_RPL_VERIFY_CHECKSUM, verify);
}

/* mysql_optionsv is variadic: typed wrappers for the options we use. */
static inline int dst_set_uint_option(MYSQL *mysql, enum mysql_option option, unsigned int value) {
    return mysql_optionsv(mysql, option, &value);
}
static inline int dst_set_string_option(MYSQL *mysql, enum mysql_option option, const char *value) {
    return mysql_optionsv(mysql, option, value);
}
static inline int dst_set_bool_option(MYSQL *mysql, enum mysql_option option, my_bool value) {
    return mysql_optionsv(mysql, option, &value);
}

#endif
