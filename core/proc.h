/* proc: child processes. Each child gets an argv array (never a shell string),
 * its own session and process group, stdin from /dev/null and stdout+stderr
 * on one pipe whose bytes are copied to a log file and handed to a callback.
 * Stopping sends SIGTERM to the whole group, then SIGKILL after a grace timer. */
#ifndef DBX_PROC_H
#define DBX_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct proc proc;

typedef struct {
  char **argv;          /* NULL-terminated; argv[0] is looked up on PATH */
  char **env;           /* NULL-terminated environment, or NULL to inherit ours */
  const char *cwd;      /* working folder, or NULL for ours */
  const char *log_path; /* file that receives the output (truncated), or NULL */
  int *log_errno;       /* when set: 0, or the errno of the first write to log_path that failed
                         * (a full disk); the rest of the output still reaches on_output */
  /* output as it arrives, in order; may be NULL */
  void (*on_output)(void *ud, const char *buf, size_t n);
  /* once, after the child exited and its output ended; the proc is freed after */
  void (*on_exit)(void *ud, int64_t exit_status, int term_signal);
  void *ud;
} proc_opts;

/* Start a child as opts says. 0, or a negative uv error (UV_ENOENT: no such
 * program) with nothing left running. */
int proc_spawn(uv_loop_t *loop, const proc_opts *opts, proc **out);
/* Ask the child's whole process group to stop: SIGTERM now, SIGKILL after
 * grace_ms if anything of it is still there. Safe to call more than once. */
void proc_kill(proc *p, unsigned grace_ms);
/* The child's process id (also its process group id). */
int proc_pid(const proc *p);

#endif
