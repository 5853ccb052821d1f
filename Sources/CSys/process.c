// Process plumbing for `curio-lua --processes` (prctl is variadic: Swift cannot call it).
#include "CSys.h"
#include <errno.h>
#include <sys/prctl.h>

int csys_set_parent_death_signal(int sig) {
    return prctl(PR_SET_PDEATHSIG, (unsigned long)sig) == 0 ? 0 : -errno;
}
