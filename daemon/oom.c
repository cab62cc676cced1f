/* oom: see oom.h. */
#include "oom.h"

#include <stdlib.h>

#include "log.h"

void oom_die(void)
{
    log_err("out of memory");
    abort();
}
