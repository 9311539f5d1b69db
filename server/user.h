/*
 * user.h: `corridord user ...`, the officer accounts that sign in to the pages
 * (docs/security.md). Runs on main() of a short-lived process.
 */
#ifndef CORRIDOR_SRV_USER_H
#define CORRIDOR_SRV_USER_H

/* Runs `corridord user` with the arguments after "user": the exit status (0 ok, 1 failed,
 * 2 bad arguments). */
int srv_user_main(int argc, char **argv);

#endif
