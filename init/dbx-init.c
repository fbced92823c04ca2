/* dbx-init: the PID 1 of dbx's dev images. It starts the app in its own
 * process group, forwards SIGTERM/SIGINT/SIGQUIT/SIGUSR1/SIGUSR2 to that
 * group, reaps every zombie (it is a child subreaper when it is not PID 1),
 * and on SIGHUP restarts the app: SIGTERM to its group, SIGKILL after a grace
 * period (DBX_INIT_GRACE_MS, default 5000), then a new start. When the app
 * ends on its own, dbx-init ends with its status (128+N for a signal N).
 *
 *   dbx-init [--] PROGRAM [ARG...]
 *
 * Built static by the Makefile so it runs in any image. One file, no
 * dependencies beyond libc. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void say(const char *fmt, const char *arg) {
  fprintf(stderr, "dbx-init: ");
  fprintf(stderr, fmt, arg);
  fputc('\n', stderr);
}

/* Start argv in a new process group with signals unblocked; its pid, or -1. */
static pid_t start(char **argv, const sigset_t *orig) {
  pid_t pid = fork();
  if (pid < 0) {
    say("cannot fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, orig, NULL);
    execvp(argv[0], argv);
    say("cannot run %s", argv[0]);
    _exit(127);
  }
  setpgid(pid, pid); /* also here, so the group exists before any signal is sent */
  return pid;
}

static int exit_code(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

static long grace_ms(void) {
  const char *g = getenv("DBX_INIT_GRACE_MS");
  long v = g ? strtol(g, NULL, 10) : 5000;
  return v > 0 ? v : 5000;
}

int main(int argc, char **argv) {
  int first = 1;
  if (first < argc && strcmp(argv[first], "--") == 0) first++;
  if (first >= argc) {
    fprintf(stderr, "usage: dbx-init [--] PROGRAM [ARG...]\n"
                    "Runs PROGRAM as a supervised child: SIGHUP restarts it, SIGTERM/SIGINT stop it.\n");
    return 2;
  }
  char **app = argv + first;
  if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, as to a PID 1 */

  sigset_t set, orig;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, &orig);

  pid_t child = start(app, &orig);
  if (child < 0) return 1;
  int restarting = 0, stopping = 0;
  struct timespec deadline = {0, 0};

  for (;;) {
    siginfo_t info;
    int sig;
    if (restarting || stopping) { /* wait, but not past the grace period */
      struct timespec now, left;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long ms = (deadline.tv_sec - now.tv_sec) * 1000 + (deadline.tv_nsec - now.tv_nsec) / 1000000;
      if (ms <= 0) {
        if (child > 0) kill(-child, SIGKILL);
        deadline.tv_sec = now.tv_sec + 3600; /* KILL is final: just reap from here on */
        continue;
      }
      left.tv_sec = ms / 1000;
      left.tv_nsec = (ms % 1000) * 1000000;
      sig = sigtimedwait(&set, &info, &left);
      if (sig < 0) continue; /* timed out (or EINTR): look at the deadline again */
    } else {
      sig = sigwaitinfo(&set, &info);
      if (sig < 0) continue;
    }

    if (sig == SIGCHLD) {
      int status;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != child) continue; /* an orphan: reaped, nothing more */
        child = 0;
        if (stopping) return exit_code(status);
        if (restarting) {
          kill(-pid, SIGKILL); /* whatever of the old group is left */
          restarting = 0;
          child = start(app, &orig);
          if (child < 0) return 1;
          say("restarted %s", app[0]);
        } else {
          return exit_code(status);
        }
      }
    } else if (sig == SIGHUP) {
      if (child > 0 && !stopping) {
        restarting = 1;
        kill(-child, SIGTERM);
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        long g = grace_ms();
        deadline.tv_sec += g / 1000;
        deadline.tv_nsec += (g % 1000) * 1000000;
        if (deadline.tv_nsec >= 1000000000) {
          deadline.tv_sec++;
          deadline.tv_nsec -= 1000000000;
        }
      }
    } else { /* SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2: the app's business */
      if (child > 0) kill(-child, sig);
      if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
        if (!stopping) {
          stopping = 1;
          restarting = 0;
          clock_gettime(CLOCK_MONOTONIC, &deadline);
          deadline.tv_sec += grace_ms() / 1000 + 5; /* the engine kills us later anyway */
        }
      }
    }
  }
}
