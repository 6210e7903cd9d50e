/* mbrl/pendulum.h - moved: Pendulum-v1 is the environment header mbrl/envs/pendulum.h.
 * Kept so that code written against the old path still compiles; include the new one. */
#ifndef MBRL_PENDULUM_H
#define MBRL_PENDULUM_H
#include "mbrl/envs/pendulum.h"
#endif
