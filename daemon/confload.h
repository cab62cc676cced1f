/* confload: reads a configuration file, then the policy file it names, and
 * parses both with lib/cfg. Shared by complaintd and complaintctl, which
 * must read the same file the same way. */
#ifndef COMPLAINTD_CONFLOAD_H
#define COMPLAINTD_CONFLOAD_H

#include <stddef.h>

#include "cfg.h"

/* NULL with the reason in err (file:line for a bad line) on any failure. */
Config *config_load(const char *path, char *err, size_t errlen);

#endif
