/* dbx-init: the PID 1 of dbx's dev images. It starts the app in its own
 * process group, forwards SIGTERM/SIGINT/SIGQUIT/SIGUSR1/SIGUSR2 to that
 * group, and reaps every zombie (it is a child subreaper when it is not
 * PID 1).
 *
 *   dbx-init [--stay] [--hup=restart|forward] [--] PROGRAM [ARG...]
 *
 * --hup=restart (the default): SIGHUP restarts the app: SIGTERM to its group,
 *   SIGKILL after a grace period (DBX_INIT_GRACE_MS, default 5000), then a new
 *   start. Every start, the first included, prints
 *   "dbx-init: started PROGRAM (pid N)" to stderr: dbx dev waits for that line.
 * --hup=forward: SIGHUP goes to the app's process alone. The app is then a
 *   restarter of its own (init/zygote.py) that restarts its child and prints
 *   the "started" lines itself, so dbx-init prints none.
 * --stay: when the app ends on its own, say so and start it again after a
 *   backoff: 250 ms, doubling up to 8 s, back to 250 ms once a run lasted
 *   10 s. A SIGHUP during the backoff starts it at once. Without --stay,
 *   dbx-init ends with the app's status (128+N for a signal N).
 * SIGTERM/SIGINT/SIGQUIT stop the app (SIGKILL after the grace period and 5 s
 * more) and dbx-init in every mode; during a backoff it exits with 128+N.
 *
 * DBX_INIT_STARTED=FILE: each "started" line is also written to FILE (through
 * a temp file and a rename), as "PID MONOTONIC_NS": dbx dev, which mounts
 * FILE's folder, sees a restart there sooner than through the log stream.
 *
 * When the app's leader ends, whatever is left of its group is killed, so a
 * new start finds its port free and nothing is left behind.
 *
 *   dbx-init --probe PORT PATH
 *
 * is a health check, not a supervisor: one HTTP GET of PATH on
 * 127.0.0.1:PORT, exit 0 for a 2xx or 3xx answer, else 1 with the reason on
 * stdout. dbx dev runs it through the exec API when the engine is on another
 * machine, where the app's port is not reachable from dbx's own.
 *
 *   dbx-init --receive
 *
 * is dbx dev's file agent on an engine it reaches only through the API: one
 * exec with stdin attached, kept open for the session, instead of an
 * archive PUT and an `rm` exec per reload. It reads records from stdin:
 *
 *   F MODE UID GID SIZE PATH\n + SIZE bytes   PATH (absolute) gets the bytes,
 *       through a temp file beside it and a rename, with MODE (octal) and
 *       owner UID:GID; missing folders above it are made, 0755 UID:GID
 *   D PATH\n                                   PATH is removed, with all below it
 *   S\n                                        answered on stdout, once all
 *       before it is applied, "ok N" (N records applied) or "error PATH: WHY"
 *       for the first that failed since the last S
 *
 * and ends at the end of its input; a malformed record ends it with status 1.
 *
 * Built static by the Makefile so it runs in any image. One file, no
 * dependencies beyond libc. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 8000
#define HEALTHY_RUN_MS 10000 /* a run this long resets the backoff */
#define PROBE_TIMEOUT_S 2     /* --probe: for the connect, the send and the answer */

static const char USAGE[] =
    "usage: dbx-init [--stay] [--hup=restart|forward] [--] PROGRAM [ARG...]\n"
    "Runs PROGRAM as a supervised child: SIGHUP restarts it, SIGTERM/SIGINT stop it.\n"
    "  --stay          when PROGRAM ends on its own, start it again after a backoff\n"
    "  --hup=restart   SIGHUP: SIGTERM PROGRAM's group, SIGKILL after DBX_INIT_GRACE_MS\n"
    "                  (default 5000), start it again (the default)\n"
    "  --hup=forward   SIGHUP: sent on to PROGRAM, which restarts its own work\n"
    "or:    dbx-init --probe PORT PATH\n"
    "Exits 0 when GET PATH on 127.0.0.1:PORT answers 2xx or 3xx, else 1 saying why.\n"
    "or:    dbx-init --receive\n"
    "Applies file records read on stdin (dbx dev's file agent; see the source).\n";

__attribute__((format(printf, 1, 2))) static void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "dbx-init: ");
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr); /* the engine's log stream is what dbx dev reads */
  va_end(ap);
}

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The app dbx-init supervises. */
struct app {
  char **argv;
  sigset_t orig;        /* the signal mask the app starts with */
  int forward;          /* --hup=forward: the app prints its own "started" lines */
  pid_t pid;            /* 0 while none runs (a --stay backoff) */
  long long started_at; /* now_ms() of the last start */
};

/* Record a start in $DBX_INIT_STARTED, when set (see the top). */
static void mark_started(pid_t pid) {
  const char *path = getenv("DBX_INIT_STARTED");
  if (!path || !*path) return;
  char tmp[4096], line[64];
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int n = snprintf(line, sizeof line, "%d %lld\n", (int)pid, (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
  if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return;
  FILE *f = fopen(tmp, "w");
  if (!f) return;
  int ok = fwrite(line, 1, (size_t)n, f) == (size_t)n;
  if (fclose(f) != 0 || !ok || rename(tmp, path) != 0) unlink(tmp);
}

/* Start the app in a new process group with signals unblocked; 0, or -1 when
 * it cannot fork (an exec failure is the child's exit status 127). */
static int launch(struct app *a) {
  pid_t pid = fork();
  if (pid < 0) {
    say("cannot fork: %s", strerror(errno));
    return -1;
  }
  if (pid == 0) {
    setpgid(0, 0);
    sigprocmask(SIG_SETMASK, &a->orig, NULL);
    execvp(a->argv[0], a->argv);
    say("cannot run %s: %s", a->argv[0], strerror(errno));
    _exit(127);
  }
  setpgid(pid, pid); /* also here, so the group exists before any signal is sent */
  a->pid = pid;
  a->started_at = now_ms();
  if (!a->forward) {
    say("started %s (pid %d)", a->argv[0], (int)pid);
    mark_started(pid);
  }
  return 0;
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

/* --probe PORT PATH: one HTTP GET of PATH on 127.0.0.1:PORT (inside the
 * container's network, for an engine on another machine). Exit 0 on a 2xx or
 * 3xx answer, else 1 with the reason on stdout (what the exec API returns). */
static int probe(const char *port_s, const char *path) {
  char *end;
  long port = strtol(port_s, &end, 10);
  if (*end || port < 1 || port > 65535 || path[0] != '/' || strpbrk(path, " \r\n")) {
    fprintf(stderr, "dbx-init: --probe needs a port and a path starting with /\n");
    return 2;
  }
  /* 127.0.0.1, then [::1] for an app that listens on IPv6 loopback alone */
  struct sockaddr_in v4 = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  v4.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  struct sockaddr_in6 v6 = {.sin6_family = AF_INET6, .sin6_port = htons((uint16_t)port), .sin6_addr = IN6ADDR_LOOPBACK_INIT};
  int fd = -1, e = 0;
  int v = 0;
  for (; v < 2 && fd < 0; v++) {
    fd = socket(v ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      if (!v) e = errno;
      continue;
    }
    struct timeval tv = {PROBE_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = v ? connect(fd, (struct sockaddr *)&v6, sizeof v6) : connect(fd, (struct sockaddr *)&v4, sizeof v4);
    if (rc < 0) {
      if (!v) e = errno; /* the IPv4 reason is the one to tell */
      close(fd);
      fd = -1;
    }
  }
  if (fd < 0) {
    printf("nothing answered on 127.0.0.1:%ld or [::1]:%ld: %s\n", port, port, strerror(e));
    return 1;
  }
  const char *host = v == 2 ? "[::1]" : "127.0.0.1"; /* where it answered (v is one past the try that did) */
  char req[1200];
  int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s:%ld\r\nConnection: close\r\n\r\n", path, host, port);
  if (n < 0 || n >= (int)sizeof req) {
    printf("the health path is too long\n");
    close(fd);
    return 1;
  }
  for (int off = 0; off < n;) {
    ssize_t w = write(fd, req + off, (size_t)(n - off));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      printf("%s:%ld: cannot send the request: %s\n", host, port, strerror(errno));
      close(fd);
      return 1;
    }
    off += (int)w;
  }
  char head[64];
  size_t got = 0;
  while (got < sizeof head - 1 && !memchr(head, '\n', got)) {
    ssize_t r = read(fd, head + got, sizeof head - 1 - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd);
  head[got] = '\0';
  int status = 0;
  if (sscanf(head, "HTTP/%*d.%*d %d", &status) != 1) {
    printf("%s:%ld%s: no HTTP answer\n", host, port, path);
    return 1;
  }
  if (status >= 200 && status < 400) return 0;
  printf("%s:%ld%s answered %d\n", host, port, path, status);
  return 1;
}

/* ---- --receive: the sync agent ---- */

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st, (void)flag, (void)ftw;
  return remove(p) < 0 && errno != ENOENT ? -1 : 0;
}

/* Make the folders above path that are missing, owned by uid:gid; 0 or an errno. */
static int make_parents(char *path, uid_t uid, gid_t gid) {
  for (char *s = strchr(path + 1, '/'); s; s = strchr(s + 1, '/')) {
    *s = '\0';
    int rc = mkdir(path, 0755);
    int e = errno;
    if (rc == 0 && chown(path, uid, gid) < 0) e = errno, rc = -1; /* new: the app's, like the files */
    *s = '/';
    if (rc < 0 && e != EEXIST) return e;
  }
  return 0;
}

/* Write size bytes from in to path (through a temp file beside it and a
 * rename) with mode and owner; 0, or an errno (the bytes are read either way). */
static int put_file(FILE *in, char *path, unsigned mode, uid_t uid, gid_t gid, unsigned long long size, int *cut) {
  char tmp[PATH_MAX + 16], buf[65536];
  int e = path[0] == '/' ? 0 : EINVAL, fd = -1;
  /* the temp file: a short name in the same folder (a long file name plus a suffix could pass NAME_MAX) */
  const char *slash = strrchr(path, '/');
  if (!e && snprintf(tmp, sizeof tmp, "%.*s/.dbx-XXXXXX", (int)(slash - path), path) >= (int)sizeof tmp)
    e = ENAMETOOLONG;
  if (!e) e = make_parents(path, uid, gid);
  if (!e && (fd = mkostemp(tmp, O_CLOEXEC)) < 0) e = errno;
  while (size > 0) {
    size_t want = size < sizeof buf ? (size_t)size : sizeof buf, got = fread(buf, 1, want, in);
    if (got == 0) {
      *cut = 1;
      break;
    }
    size -= got;
    for (size_t off = 0; fd >= 0 && !e && off < got;) {
      ssize_t w = write(fd, buf + off, got - off);
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) e = errno;
      else off += (size_t)w;
    }
  }
  if (fd >= 0) {
    if (!e && !*cut && (fchown(fd, uid, gid) < 0 || fchmod(fd, mode & 07777) < 0)) e = errno;
    if (close(fd) < 0 && !e) e = errno;
    if (!e && !*cut && rename(tmp, path) < 0) e = errno;
    if (e || *cut) unlink(tmp);
  }
  return e;
}

/* Apply what dbx dev sends on stdin, answer on stdout; see the top. */
static int receive(void) {
  char line[PATH_MAX + 128], first[PATH_MAX + 160] = "";
  size_t applied = 0;
  while (fgets(line, sizeof line, stdin)) {
    size_t n = strlen(line);
    if (n == 0 || line[n - 1] != '\n') {
      printf("error a record longer than %zu bytes\n", sizeof line - 1);
      return 1;
    }
    line[n - 1] = '\0';
    unsigned mode;
    unsigned long uid, gid;
    unsigned long long size;
    int used = 0, cut = 0, e = 0;
    char *path = NULL;
    if (line[0] == 'F' && sscanf(line, "F %o %lu %lu %llu %n", &mode, &uid, &gid, &size, &used) == 4 && used) {
      path = line + used;
      e = put_file(stdin, path, mode, (uid_t)uid, (gid_t)gid, size, &cut);
      if (cut) {
        printf("error the input ended inside %s\n", path);
        return 1;
      }
    } else if (line[0] == 'D' && line[1] == ' ' && line[2] == '/') {
      path = line + 2;
      if (nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0 && errno != ENOENT) e = errno;
    } else if (strcmp(line, "S") == 0) {
      if (first[0]) printf("error %s\n", first);
      else printf("ok %zu\n", applied);
      fflush(stdout);
      first[0] = '\0';
      applied = 0;
      continue;
    } else {
      printf("error not a record: %.60s\n", line);
      return 1;
    }
    if (e && !first[0]) snprintf(first, sizeof first, "%s: %s", path, strerror(e));
    if (!e) applied++;
  }
  return 0;
}

int main(int argc, char **argv) {
  if (argc == 2 && strcmp(argv[1], "--receive") == 0) return receive();
  if (argc >= 2 && strcmp(argv[1], "--probe") == 0) {
    if (argc != 4) {
      fputs(USAGE, stderr);
      return 2;
    }
    return probe(argv[2], argv[3]);
  }
  int first = 1, stay = 0, forward = 0;
  for (; first < argc && strncmp(argv[first], "--", 2) == 0; first++) {
    if (strcmp(argv[first], "--") == 0) {
      first++;
      break;
    }
    if (strcmp(argv[first], "--stay") == 0) {
      stay = 1;
    } else if (strcmp(argv[first], "--hup=restart") == 0) {
      forward = 0;
    } else if (strcmp(argv[first], "--hup=forward") == 0) {
      forward = 1;
    } else {
      fprintf(stderr, "dbx-init: unknown option %s\n%s", argv[first], USAGE);
      return 2;
    }
  }
  if (first >= argc) {
    fputs(USAGE, stderr);
    return 2;
  }
  struct app a = {.argv = argv + first, .forward = forward};
  if (getpid() != 1) prctl(PR_SET_CHILD_SUBREAPER, 1); /* orphans come to us, as to a PID 1 */

  sigset_t set;
  sigemptyset(&set);
  int sigs[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaddset(&set, sigs[i]);
  sigprocmask(SIG_BLOCK, &set, &a.orig);

  /* due is when to act without a signal: the SIGKILL while restarting or
   * stopping, else (no app running) the end of the backoff. */
  int restarting = 0, stopping = 0;
  long long due = 0;
  long backoff = BACKOFF_MIN_MS;
  if (launch(&a) < 0) return 1;

  for (;;) {
    siginfo_t info;
    int sig;
    if (restarting || stopping || a.pid == 0) { /* wait, but not past due */
      long long left = due - now_ms();
      if (left <= 0) {
        if (a.pid == 0) {
          if (launch(&a) < 0) return 1;
        } else {
          kill(-a.pid, SIGKILL);
          due = now_ms() + 3600 * 1000LL; /* KILL is final: just reap from here on */
        }
        continue;
      }
      struct timespec ts = {(time_t)(left / 1000), (long)(left % 1000) * 1000000};
      sig = sigtimedwait(&set, &info, &ts);
    } else {
      sig = sigwaitinfo(&set, &info);
    }
    if (sig < 0) continue; /* timed out (or EINTR): look at due again */

    if (sig == SIGCHLD) {
      int status;
      pid_t pid;
      while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        if (pid != a.pid) continue; /* an orphan: reaped, nothing more */
        a.pid = 0;
        kill(-pid, SIGKILL); /* whatever of the old group is left */
        if (stopping) return exit_code(status);
        if (restarting) {
          restarting = 0;
          if (launch(&a) < 0) return 1;
        } else if (!stay) {
          return exit_code(status);
        } else {
          if (now_ms() - a.started_at >= HEALTHY_RUN_MS) backoff = BACKOFF_MIN_MS;
          char how[64];
          if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "killed by signal %d", WTERMSIG(status));
          else
            snprintf(how, sizeof how, "exited with status %d", exit_code(status));
          say("%s %s; starting it again in %gs", a.argv[0], how, backoff / 1000.0);
          due = now_ms() + backoff;
          backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
        }
      }
    } else if (sig == SIGHUP) {
      if (stopping) continue;
      if (a.pid == 0) {
        if (launch(&a) < 0) return 1; /* in the backoff: the user asked, start now */
      } else if (forward) {
        kill(a.pid, SIGHUP);
      } else if (!restarting) { /* a second HUP does not push the KILL back */
        restarting = 1;
        kill(-a.pid, SIGTERM);
        due = now_ms() + grace_ms();
      }
    } else { /* SIGTERM, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2: the app's business */
      if (a.pid > 0) kill(-a.pid, sig);
      if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT) {
        if (a.pid == 0) return 128 + sig; /* in the backoff: nothing left to stop */
        if (!stopping) {
          stopping = 1;
          restarting = 0;
          due = now_ms() + grace_ms() + 5000; /* the engine kills us later anyway */
        }
      }
    }
  }
}
