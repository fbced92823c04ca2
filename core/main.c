/* dbx: command line. Only this file decides to exit. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <lua.h>
#include <uv.h>

#include "build.h"
#include "dev.h"
#include "gen.h"
#include "graph.h"
#include "graphcache.h"
#include "image.h"
#include "images.h"
#include "push.h"
#include "recipe.h"
#include "term.h"
#include "util.h"

#ifndef DBX_VERSION
#define DBX_VERSION "0.0.0"
#endif

#define STATE_DIR ".dbx"

struct cmd {
  const char *name, *args, *summary, *help;
};

static const struct cmd cmds[] = {
    {"build", "[TARGET...]", "build targets and what they need (the default command)",
     "Builds each TARGET and everything it depends on, skipping whatever is up to date.\n"
     "Without TARGET: the group 'default' if the recipe declares one, else every target.\n"
     "A target is up to date when its key (a digest of its kind, params, input files and\n"
     "its dependencies' keys) is recorded in .dbx/store and its outputs exist.\n\n"
     "Examples:\n  dbx build\n  dbx build -j4 -k test lint\n  dbx build -n app        # say what would run and why\n"},
    {"dev", "[SERVICE...] [--watch]", "run services' dev images, reloading them as you edit",
     "Builds the dev image of each SERVICE (a python.service; without SERVICE, every one in the\n"
     "dev group), starts it as a container through the engine API with dbx-init as its PID 1,\n"
     "and streams its output, prefixed with the service name. Ctrl-C stops and removes the\n"
     "containers and every file dbx made for them (exit status 130).\n\n"
     "With --watch, each batch of saved files becomes the cheapest correct reload:\n"
     "  source files     copied into the container, then the app restarted (warm: forked from a\n"
     "                   parent that already imported its dependencies; dev = { restart = \"cold\" }\n"
     "                   for a fresh interpreter), container and image untouched;\n"
     "  deps/lock/base   the image rebuilt and a new container started; the old one comes back\n"
     "                   if the new one does not become healthy;\n"
     "  build.lua        the recipe loaded again and what changed rebuilt.\n"
     "Each reload prints one line with its cause and timings (a 'reload' event in --progress=json).\n\n"
     "Options:\n"
     "  --watch           reload on changes (otherwise run until interrupted)\n"
     "  --debounce=MS     a batch of changes closes after MS without a change (default 5)\n"
     "  --sync=MODE       how files get in: auto (a bind-mounted sync folder on a local engine,\n"
     "                    the archive API on a remote one), mount, or archive\n"
     "  --keep            leave the containers running at exit\n"
     "  --gpus=all|none|N ask the engine for GPUs, over the recipe's gpus field (which, on an\n"
     "                    engine without GPU support, only warns and starts without them)\n\n"
     "Examples:\n  dbx dev --watch\n  dbx dev allocator --watch --progress=json\n"},
    {"targets", "", "list the targets the recipe declares",
     "Lists every target with its kind, where it is declared and its description.\n"},
    {"graph", "[--dot] [TARGET...]", "print the dependency graph",
     "Prints one 'target -> dependency' line per edge, or Graphviz with --dot:\n"
     "  dbx graph --dot | dot -Tsvg > graph.svg\n"},
    {"explain", "TARGET", "say what changed since TARGET was last built",
     "Compares TARGET's inputs, params and dependencies' keys with the record of its last\n"
     "build and names each difference: input files added, removed or changed, params changed,\n"
     "dependencies whose key changed.\n"},
    {"gen", "[SERVICE...] [-o DIR] [--force]", "write standalone Dockerfiles equivalent to what dbx builds",
     "Writes, for each image target that has them (the final images of python.service: SERVICE/prod\n"
     "gives Dockerfile, SERVICE/dev gives Dockerfile.dev, each with its start.sh), the files that\n"
     "build the same image with plain docker, then prints for each Dockerfile the command that\n"
     "builds it, with paths relative to the current folder:\n"
     "  dbx gen allocator     # ... build it with: docker build -f allocator/Dockerfile allocator\n"
     "Files go to the service's folder, or to DIR with -o (relative to the project folder); the\n"
     "build context stays the service's folder. SERVICE matches a target name or its first part;\n"
     "without SERVICE every target's files are written.\n\n"
     "Where the build context has no .dockerignore, gen writes one (into the context, or beside\n"
     "each Dockerfile in DIR as Dockerfile.dockerignore, which docker reads with -f): it keeps out\n"
     "what dbx keeps out of its own contexts (.git, .dbx, .venv, __pycache__, .env files, keys)\n"
     "and tool caches, virtual environments and build output. An existing .dockerignore is never\n"
     "touched.\n\n"
     "gen overwrites only files it wrote (\"Generated by dbx\" in their first three lines). If\n"
     "another file is in the way (a hand-written Dockerfile), it writes nothing, names the file\n"
     "and exits 1.\n\n"
     "Options:\n"
     "  -o DIR, --output=DIR  write the files into DIR\n"
     "  --force               overwrite files in the way even though dbx did not write them\n"},
    {"init", "[DIR]", "write a first build.lua for the Python project in DIR",
     "Reads DIR's pyproject.toml (name, console scripts, requires-python), its lock file\n"
     "(uv.lock, pdm.lock, poetry.lock or requirements.txt + constraints.txt) and its code, and\n"
     "writes DIR/build.lua: one python.service with the manager, command, port and health check\n"
     "it found or guessed, each guess marked in a comment. Refuses to overwrite a build.lua.\n"},
    {"clean", "[--images]", "remove declared outputs and the .dbx state folder",
     "Removes every output file the recipe declares and the .dbx folder (store, stat cache,\n"
     "logs), so the next build runs everything. With --images, also removes from the engine\n"
     "every image labelled with this project's name.\n"},
    {"push", "TARGET --to REGISTRY", "build an image target and push it to a registry",
     "Builds TARGET (an image target) if it is not up to date, then pushes it to REGISTRY\n"
     "(HOST[:PORT][/PATH]) through the engine under two names: its recipe tag\n"
     "(client:release -> REGISTRY/client:release) and its content key (REGISTRY/client:KEY16,\n"
     "the first 16 hex digits of its key), so a deployment can pin exactly what was built.\n"
     "The login is the one `docker login HOST` keeps: its credential helper, or the auths\n"
     "entry of $DOCKER_CONFIG/config.json (default ~/.docker/config.json). A registry on\n"
     "127.0.0.1 is spoken to over plain HTTP, as the engine allows for loopback.\n"
     "Exit status: 0 pushed, 1 the build or the push failed (unreachable registry or refused\n"
     "login included), 2 usage errors (no --to, not an image target), no engine, or a docker\n"
     "config or credential helper that cannot be read.\n\n"
     "Example:\n  dbx push trades/prod --to 127.0.0.1:5000\n"},
    {"engine", "", "say which container engine dbx talks to",
     "Asks the engine named by DOCKER_HOST (default /var/run/docker.sock) for its version,\n"
     "counts this project's images there, and names the docker client that builds.\n"
     "Exit status 2 when no engine answers.\n"},
    {"help", "[COMMAND]", "show help for dbx or a command", ""},
};
#define NCMDS (sizeof cmds / sizeof *cmds)

static void usage(FILE *f) {
  fprintf(f,
          "usage: dbx [OPTIONS] [COMMAND] [ARGS...]\n\n"
          "dbx builds the targets a build.lua declares, running only what changed.\n\n"
          "Commands:\n");
  for (size_t i = 0; i < NCMDS; i++) {
    char head[64];
    snprintf(head, sizeof head, "%s %s", cmds[i].name, cmds[i].args);
    fprintf(f, "  %-28s %s\n", head, cmds[i].summary);
  }
  fprintf(f,
          "\nOptions:\n"
          "  -C DIR                       run in DIR (where build.lua is)\n"
          "  --build-arg NAME=VALUE       a build argument an image declares in args (NAME alone:\n"
          "                               its value from the environment); part of the key\n"
          "  -f FILE                      use FILE as the recipe (default: build.lua)\n"
          "  -j N, --jobs=N               run at most N commands at once (default: CPU count)\n"
          "  -k, --keep-going             after a failure, go on with what does not depend on it\n"
          "  -n, --dry-run                print what would run and why; run nothing\n"
          "  -o DIR, --output=DIR         gen: where to write the files\n"
          "  --force                      gen: overwrite files dbx did not write\n"
          "  -v, --verbose                say more\n"
          "  --progress=auto|tty|plain|json\n"
          "                               output style (auto: tty on a terminal, plain in CI or a pipe)\n"
          "  --version                    print the version\n"
          "  -h, --help                   this help; 'dbx help COMMAND' for a command\n"
          "\nExit status: 0 ok, 1 a target failed, 2 usage or recipe error, 130 interrupted.\n"
          "Environment: CI (plain output), NO_COLOR, DBX_LUA_PATH (load dbx's Lua from a folder).\n"
          "Docs: docs/cli.md, docs/recipes.md\n");
}

static const struct cmd *find_cmd(const char *name) {
  for (size_t i = 0; i < NCMDS; i++)
    if (strcmp(cmds[i].name, name) == 0) return &cmds[i];
  return NULL;
}

static int cmd_help(const char *name) {
  const struct cmd *c = name ? find_cmd(name) : NULL;
  if (!c || strcmp(c->name, "help") == 0) {
    if (name && !c) {
      fprintf(stderr, "dbx: no command '%s'\n", name);
      return 2;
    }
    usage(stdout);
    return 0;
  }
  printf("usage: dbx [OPTIONS] %s %s\n\n%s\n%s", c->name, c->args, c->summary, c->help);
  printf("\nRun 'dbx --help' for the options every command takes.\n");
  return 0;
}

struct opts {
  const char *dir, *file, *cmd, *out;
  unsigned jobs;
  int keep_going, dry_run, verbose, dot, help, images, watch, keep, force;
  unsigned debounce;
  const char *sync, *gpus, *to;
  progress_mode progress;
  strvec args;
};

/* --build-arg values, "NAME=value"; applied to every graph loaded. */
static strvec build_args;

/* Ctrl-C or SIGTERM while no loop watches for it (before a build starts, or
 * after it ended): nothing is running that needs stopping and nothing is
 * half-written (state files are replaced whole), so leave at once with 130. */
static void interrupted_now(int sig) {
  (void)sig;
  _exit(130);
}

static void exit_on_interrupt(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = interrupted_now;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

static int bad_usage(const char *fmt, const char *arg) {
  fprintf(stderr, "dbx: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\nRun 'dbx --help' for usage.\n");
  return 2;
}

static int parse_jobs(const char *s, unsigned *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || *end || v < 1 || v > 4096) return -1;
  *out = (unsigned)v;
  return 0;
}

/* Parse argv into o; 0, or an exit code (>0) to stop with. */
static int parse_args(int argc, char **argv, struct opts *o) {
  int only_args = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (only_args || a[0] != '-' || !a[1]) {
      if (!o->cmd && find_cmd(a)) o->cmd = a;
      else if (!o->cmd) {
        const char *names[NCMDS];
        for (size_t k = 0; k < NCMDS; k++) names[k] = cmds[k].name;
        const char *hint = closest_name(a, names, NCMDS);
        if (hint) {
          fprintf(stderr, "dbx: unknown command '%s' (did you mean '%s'?)\n", a, hint);
          return 2;
        }
        o->cmd = "build"; /* dbx TARGET... is dbx build TARGET... */
        sv_push(&o->args, a);
      } else sv_push(&o->args, a);
      continue;
    }
    const char *val = NULL;
#define TAKE(short_, long_)                                                                      \
  ((strcmp(a, short_) == 0 || strcmp(a, long_) == 0)                                            \
       ? (i + 1 < argc ? (val = argv[++i], 1) : (bad_usage("option %s needs a value", a), -1))  \
   : (strncmp(a, short_, 2) == 0 && strlen(short_) == 2 && a[2] && a[1] != '-')                 \
       ? (val = a + 2, 1)                                                                       \
   : (strncmp(a, long_ "=", strlen(long_ "=")) == 0) ? (val = a + strlen(long_ "="), 1)          \
                                                      : 0)
    int r;
    if (strcmp(a, "--") == 0) only_args = 1;
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) o->help = 1;
    else if (strcmp(a, "--version") == 0) {
      printf("dbx %s (%s, libuv %s)\n", DBX_VERSION, LUA_RELEASE, uv_version_string());
      return -1;
    } else if (strcmp(a, "-k") == 0 || strcmp(a, "--keep-going") == 0) o->keep_going = 1;
    else if (strcmp(a, "-n") == 0 || strcmp(a, "--dry-run") == 0) o->dry_run = 1;
    else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) o->verbose = 1;
    else if (strcmp(a, "--dot") == 0) o->dot = 1;
    else if (strcmp(a, "--images") == 0) o->images = 1;
    else if (strcmp(a, "--watch") == 0) o->watch = 1;
    else if (strcmp(a, "--keep") == 0) o->keep = 1;
    else if (strcmp(a, "--force") == 0) o->force = 1;
    else if (strncmp(a, "--debounce=", 11) == 0) {
      char *end;
      long v = strtol(a + 11, &end, 10);
      if (*end || end == a + 11 || v < 1 || v > 60000)
        return bad_usage("--debounce needs milliseconds from 1 to 60000, got '%s'", a + 11);
      o->debounce = (unsigned)v;
    } else if (strncmp(a, "--sync=", 7) == 0) {
      o->sync = a + 7;
      if (strcmp(o->sync, "auto") && strcmp(o->sync, "mount") && strcmp(o->sync, "archive"))
        return bad_usage("--sync must be auto, mount or archive, not '%s'", o->sync);
    }
    else if (strcmp(a, "--build-arg") == 0 || strncmp(a, "--build-arg=", 12) == 0) {
      if (a[11] == '=') val = a + 12;
      else if (i + 1 < argc) val = argv[++i];
      else return bad_usage("%s needs NAME=VALUE", a);
      size_t nl = strcspn(val, "=");
      int ok = nl > 0 && (val[0] == '_' || (val[0] >= 'A' && val[0] <= 'Z') || (val[0] >= 'a' && val[0] <= 'z'));
      for (size_t k = 0; k < nl && ok; k++)
        ok = val[k] == '_' || (val[k] >= 'A' && val[k] <= 'Z') || (val[k] >= 'a' && val[k] <= 'z') ||
             (val[k] >= '0' && val[k] <= '9');
      if (!ok) return bad_usage("--build-arg needs NAME=VALUE with NAME of letters, digits and _, got '%s'", val);
      if (val[nl] == '=') sv_push(&build_args, val);
      else { /* --build-arg NAME: the value in dbx's environment, as docker does */
        const char *env = getenv(val);
        if (!env) return bad_usage("--build-arg %s: no value given and none in the environment", val);
        sv_push_own(&build_args, xasprintf("%s=%s", val, env));
      }
    } else if (strcmp(a, "--to") == 0 || strncmp(a, "--to=", 5) == 0) {
      if (a[4] == '=') o->to = a + 5;
      else if (i + 1 < argc) o->to = argv[++i];
      else return bad_usage("%s needs a registry: HOST[:PORT][/PATH]", a);
    } else if (strncmp(a, "--gpus=", 7) == 0) {
      o->gpus = a + 7;
      char *end;
      long n = strtol(o->gpus, &end, 10);
      if (strcmp(o->gpus, "all") && strcmp(o->gpus, "none") && (*end || end == o->gpus || n < 1 || n > 64))
        return bad_usage("--gpus must be all, none or a count, not '%s'", o->gpus);
    } else if ((r = TAKE("-C", "--directory")) != 0) {
      if (r < 0) return 2;
      o->dir = val;
    } else if ((r = TAKE("-o", "--output")) != 0) {
      if (r < 0) return 2;
      o->out = val;
    } else if ((r = TAKE("-f", "--file")) != 0) {
      if (r < 0) return 2;
      o->file = val;
    } else if ((r = TAKE("-j", "--jobs")) != 0) {
      if (r < 0) return 2;
      if (parse_jobs(val, &o->jobs) < 0) return bad_usage("-j needs a number from 1 to 4096, got '%s'", val);
    } else if (strncmp(a, "--progress", 10) == 0) {
      if (a[10] == '=') val = a + 11;
      else if (!a[10] && i + 1 < argc) val = argv[++i];
      else return bad_usage("%s needs a value: auto, tty, plain or json", a);
      if (term_parse_mode(val, &o->progress) < 0)
        return bad_usage("--progress must be auto, tty, plain or json, not '%s'", val);
    } else {
      return bad_usage("unknown option '%s'", a);
    }
#undef TAKE
  }
  return 0;
}

static int select_targets(graph *g, const strvec *names, size_t **out, size_t *n);

/* dbx push TARGET --to REGISTRY: build it, then push it. */
static int cmd_push(graph *g, const struct opts *o, const build_opts *bo) {
  if (o->args.n != 1) {
    fprintf(stderr, "dbx: push takes one image target: dbx push TARGET --to REGISTRY\n");
    return 2;
  }
  const char *why = push_check_registry(o->to);
  if (why) {
    fprintf(stderr, "dbx: push: %s\n", why);
    return 2;
  }
  size_t *roots = NULL, n = 0;
  int code = select_targets(g, &o->args, &roots, &n);
  if (code == 0 && g->t[roots[0]]->kind != KIND_IMAGE) {
    fprintf(stderr, "dbx: push: %s is a %s target, not an image; push takes an image target (see dbx targets)\n",
            g->t[roots[0]]->name, kind_name(g->t[roots[0]]->kind));
    code = 2;
  }
  push_login login = {0};
  char *err = NULL;
  if (code == 0 && push_login_find(o->to, &login, &err) < 0) { /* before a build that would be for nothing */
    fprintf(stderr, "dbx: push: %s\n", err);
    free(err);
    code = 2;
  }
  strvec keys = {0};
  build_opts b = *bo;
  b.keys = &keys;
  if (code == 0) code = build_run(g, roots, n, &b);
  exit_on_interrupt(); /* the build's own handling ended with it */
  if (code == 0 && keys.n == 1) {
    char *project = image_project_name();
    code = push_image(g->t[roots[0]], keys.v[0], project, o->to, &login);
    free(project);
  }
  push_login_free(&login);
  sv_free(&keys);
  free(roots);
  return code;
}

/* Resolve target names to indexes; exit code 2 on an unknown name. */
static int select_targets(graph *g, const strvec *names, size_t **out, size_t *n) {
  *out = xmalloc((names->n ? names->n : g->n ? g->n : 1) * sizeof **out);
  *n = 0;
  if (names->n == 0) {
    target *d = graph_find(g, "default");
    if (d) (*out)[(*n)++] = graph_index(g, d);
    else
      for (size_t i = 0; i < g->n; i++) (*out)[(*n)++] = i;
    return 0;
  }
  for (size_t i = 0; i < names->n; i++) {
    target *t = graph_find(g, names->v[i]);
    if (!t) {
      const char *hint = graph_suggest(g, names->v[i]);
      if (hint) fprintf(stderr, "dbx: error: unknown target '%s' (did you mean '%s'?)\n", names->v[i], hint);
      else fprintf(stderr, "dbx: error: unknown target '%s' (see 'dbx targets')\n", names->v[i]);
      return 2;
    }
    (*out)[(*n)++] = graph_index(g, t);
  }
  return 0;
}

static int cmd_targets(graph *g) {
  size_t w = 0;
  for (size_t i = 0; i < g->n; i++)
    if (strlen(g->t[i]->name) > w) w = strlen(g->t[i]->name);
  for (size_t i = 0; i < g->n; i++) {
    target *t = g->t[i];
    printf("%-*s  %-5s  %s%s%s\n", (int)w, t->name, kind_name(t->kind), t->where ? t->where : "",
           t->desc ? "  " : "", t->desc ? t->desc : "");
  }
  return 0;
}

static void dot_str(const char *s) {
  putchar('"');
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') putchar('\\');
    putchar(*s);
  }
  putchar('"');
}

static int cmd_graph(graph *g, const size_t *roots, size_t nroots, int dot) {
  size_t n;
  size_t *order = graph_closure(g, roots, nroots, &n);
  if (dot) printf("digraph dbx {\n  rankdir=LR;\n");
  for (size_t i = 0; i < n; i++) {
    target *t = g->t[order[i]];
    if (dot) {
      printf("  ");
      dot_str(t->name);
      printf(" [shape=%s];\n", t->kind == KIND_GROUP ? "folder" : t->kind == KIND_IMAGE ? "box3d" : "box");
    }
    for (size_t d = 0; d < t->deps.n; d++) {
      if (dot) {
        printf("  ");
        dot_str(t->name);
        printf(" -> ");
        dot_str(t->deps.v[d]);
        printf(";\n");
      } else {
        printf("%s -> %s\n", t->name, t->deps.v[d]);
      }
    }
    if (!dot && t->deps.n == 0) printf("%s\n", t->name);
  }
  if (dot) printf("}\n");
  free(order);
  return 0;
}

static int cmd_clean(graph *g, int images) {
  size_t removed = 0;
  for (size_t i = 0; i < g->n; i++)
    for (size_t k = 0; k < g->t[i]->outputs.n; k++)
      if (unlink(g->t[i]->outputs.v[k]) == 0) removed++;
  struct stat st;
  int had_state = stat(STATE_DIR, &st) == 0;
  int rc = had_state ? rm_rf(STATE_DIR) : 0;
  if (rc < 0) {
    fprintf(stderr, "dbx: error: cannot remove %s: %s\n", STATE_DIR, strerror(-rc));
    return 1;
  }
  printf("removed %zu output%s%s\n", removed, removed == 1 ? "" : "s", had_state ? " and " STATE_DIR "/" : "");
  return images ? images_remove() : 0;
}

/* How many folders above the current one the nearest uv.lock is (at most 8
 * up), or 0 when there is none. */
static int uv_lock_above(void) {
  strbuf p = {0};
  int found = 0;
  for (int up = 1; up <= 8 && !found; up++) {
    sb_adds(&p, "../");
    char *f = xasprintf("%suv.lock", p.buf);
    if (access(f, F_OK) == 0) found = up;
    free(f);
  }
  sb_free(&p);
  return found;
}

/* Go up `up` folders; the path from there down to where this was ("" when it
 * cannot be told; caller frees). */
static char *climb(int up) {
  char here[4096], root[4096];
  if (!getcwd(here, sizeof here)) here[0] = 0;
  for (int i = 0; i < up; i++)
    if (chdir("..") < 0) break;
  if (!getcwd(root, sizeof root)) root[0] = 0;
  size_t n = strlen(root);
  if (n == 1) n = 0; /* the root folder "/" */
  return xstrdup(strncmp(here, root, n) == 0 && here[n] == '/' ? here + n + 1 : "");
}

/* Load the build.lua just written into a scratch graph; when it does not
 * load, remove it and say why, with its text. 0 or -1. */
static int init_check(const char *where, const char *text) {
  graph *g = graph_new();
  char *err = NULL;
  int rc = recipe_load("build.lua", g, &recipe_default_limits, &err);
  if (rc == 0) rc = graph_resolve(g, &err);
  graph_free(g);
  if (rc == 0) return 0;
  unlink("build.lua");
  fprintf(stderr, "dbx: error: the recipe dbx init wrote does not load, so %s/build.lua was not kept:\n%s\n\n%s",
          where, err ? err : "recipe error", text);
  free(err);
  return -1;
}

static int cmd_init(const struct opts *o) {
  if (o->dir && chdir(o->dir) < 0) {
    fprintf(stderr, "dbx: error: cannot enter %s: %s\n", o->dir, strerror(errno));
    return 2;
  }
  if (o->args.n > 1) {
    fprintf(stderr, "dbx: init takes at most one folder\n");
    return 2;
  }
  const char *dir = o->args.n ? o->args.v[0] : ".";
  struct stat st;
  if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
    fprintf(stderr, "dbx: error: %s is not a folder\n", dir);
    return 2;
  }
  if (chdir(dir) < 0) {
    fprintf(stderr, "dbx: error: cannot enter %s: %s\n", dir, strerror(errno));
    return 2;
  }
  if (stat("build.lua", &st) == 0) {
    fprintf(stderr, "dbx: error: %s/build.lua exists; dbx init does not overwrite it (move it away first)\n", dir);
    return 2;
  }
  char *text = NULL, *err = NULL, *where = xstrdup(dir), *rel = NULL;
  int up = recipe_init_text("", &text, &err);
  if (up == RECIPE_INIT_LOCK_ABOVE) {
    /* a uv workspace member: its lock, and so the recipe, is at the workspace's root */
    up = uv_lock_above();
    if (up == 0) up = -1;
    else {
      free(err);
      err = NULL;
    }
  }
  if (up > 0) {
    /* the recipe goes where the lock or the local packages are */
    rel = climb(up);
    free(where);
    where = xasprintf("%s/%.*s", dir, up * 3 - 1, "../../../../../../../../../../../../../../../");
    up = *rel ? recipe_init_text(rel, &text, &err) : -1;
    if (!*rel && !err) err = xstrdup("its local packages reach outside every folder above it");
  }
  int rc = 2;
  if (up != 0) {
    fprintf(stderr, "dbx: error: %s: %s\n", dir, err ? err : "dbx init failed");
    goto out;
  }
  if (stat("build.lua", &st) == 0) {
    fprintf(stderr, "dbx: error: %s/build.lua exists; dbx init does not overwrite it (move it away first)\n", where);
    goto out;
  }
  rc = 1;
  int wrc = write_file_atomic("build.lua", text, strlen(text));
  if (wrc < 0) {
    fprintf(stderr, "dbx: error: cannot write %s/build.lua: %s\n", where, strerror(-wrc));
    goto out;
  }
  if (init_check(where, text) < 0) goto out;
  printf("wrote %s/build.lua:\n\n%s", where, text);
  rc = 0;
out:
  free(err);
  free(text);
  free(where);
  free(rel);
  return rc;
}

/* The recipe's graph: from the cache when nothing it read has changed, else
 * evaluated (and cached); resolved. NULL with *err set (caller frees). */
static graph *load_graph(const char *file, char **err) {
  graph *g = graphcache_load(STATE_DIR "/graph", file);
  if (!g) {
    g = graph_new();
    if (recipe_load(file, g, &recipe_default_limits, err) < 0) {
      graph_free(g);
      return NULL;
    }
    if (mkdir_p(STATE_DIR) == 0) graphcache_save(g, STATE_DIR "/graph", file);
  }
  if (graph_resolve(g, err) < 0 || graph_apply_args(g, &build_args, err) < 0) {
    graph_free(g);
    return NULL;
  }
  return g;
}

static graph *reload_graph(void *ud, char **err) { return load_graph(ud, err); }

/* Move into the project folder; returns the recipe file name there, or NULL. */
static const char *enter_project(const struct opts *o) {
  if (o->dir && chdir(o->dir) < 0) {
    fprintf(stderr, "dbx: error: cannot enter %s: %s\n", o->dir, strerror(errno));
    return NULL;
  }
  const char *file = o->file ? o->file : "build.lua";
  const char *slash = strrchr(file, '/');
  if (slash) {
    char *d = xstrndup(file, (size_t)(slash - file));
    int rc = chdir(*d ? d : "/");
    if (rc < 0) fprintf(stderr, "dbx: error: cannot enter %s: %s\n", d, strerror(errno));
    free(d);
    if (rc < 0) return NULL;
    file = slash + 1;
  }
  struct stat st;
  if (stat(file, &st) < 0) {
    char cwd[4096];
    fprintf(stderr, "dbx: error: no %s in %s (use -C DIR or -f FILE, or see docs/recipes.md)\n", file,
            getcwd(cwd, sizeof cwd) ? cwd : ".");
    return NULL;
  }
  return file;
}

int main(int argc, char **argv) {
  exit_on_interrupt();
  struct opts o = {0};
  int code = parse_args(argc, argv, &o);
  if (code) {
    sv_free(&o.args);
    return code < 0 ? 0 : code;
  }
  if (o.help || (o.cmd && strcmp(o.cmd, "help") == 0)) {
    /* dbx --help: the overview; dbx CMD --help and dbx help CMD: that command */
    const char *topic = !o.cmd ? NULL : strcmp(o.cmd, "help") == 0 ? (o.args.n ? o.args.v[0] : NULL) : o.cmd;
    code = cmd_help(topic);
    sv_free(&o.args);
    return code;
  }
  if (!o.cmd) o.cmd = "build";
  if (!o.jobs) {
    unsigned n = uv_available_parallelism();
    o.jobs = n ? n : 1;
  }
  term_init(o.progress, o.verbose);
  if (strcmp(o.cmd, "init") == 0) { /* needs no recipe: it writes one */
    code = cmd_init(&o);
    sv_free(&o.args);
    return code;
  }
  if (strcmp(o.cmd, "engine") == 0) { /* needs no recipe: the project is the folder */
    sv_free(&o.args);
    if (o.dir && chdir(o.dir) < 0) {
      fprintf(stderr, "dbx: error: cannot enter %s: %s\n", o.dir, strerror(errno));
      return 2;
    }
    return images_status();
  }
  graph *g = NULL;
  size_t *roots = NULL, nroots = 0;
  char *err = NULL;
  code = 2;
  char start_dir[4096]; /* where dbx was started: gen names paths from there */
  if (!getcwd(start_dir, sizeof start_dir)) start_dir[0] = 0;
  const char *file = enter_project(&o);
  if (!file) goto out;
  g = load_graph(file, &err);
  if (!g) {
    fprintf(stderr, "dbx: error: %s\n", err);
    goto out;
  }
  build_opts bo = {.jobs = o.jobs, .keep_going = o.keep_going, .dry_run = o.dry_run, .state_dir = STATE_DIR};
  if (strcmp(o.cmd, "targets") == 0) {
    code = cmd_targets(g);
  } else if (strcmp(o.cmd, "clean") == 0) {
    code = cmd_clean(g, o.images);
  } else if (strcmp(o.cmd, "dev") == 0) {
    dev_opts dopt = {.build = bo, .watch = o.watch, .keep = o.keep, .debounce_ms = o.debounce ? o.debounce : 5,
                     .sync = o.sync ? o.sync : "auto", .gpus = o.gpus, .reload = reload_graph, .reload_ud = (void *)file};
    code = dev_run(&g, &o.args, &dopt);
  } else if (strcmp(o.cmd, "push") == 0) {
    code = cmd_push(g, &o, &bo);
  } else if (strcmp(o.cmd, "gen") == 0) {
    gen_opts go = {.services = &o.args, .out = o.out, .force = o.force, .cwd = *start_dir ? start_dir : NULL};
    code = gen_run(g, &go);
  } else if (strcmp(o.cmd, "explain") == 0) {
    if (o.args.n != 1) {
      fprintf(stderr, "dbx: explain takes one target name\n");
      goto out;
    }
    if ((code = select_targets(g, &o.args, &roots, &nroots)) == 0) code = build_explain(g, roots[0], &bo);
  } else if ((code = select_targets(g, &o.args, &roots, &nroots)) == 0) {
    if (strcmp(o.cmd, "graph") == 0) code = cmd_graph(g, roots, nroots, o.dot);
    else code = build_run(g, roots, nroots, &bo);
  }
out:
  free(err);
  free(roots);
#ifdef DBX_FREE_ALL
  graph_free(g); /* otherwise left to the exit, which is faster */
#endif
  sv_free(&o.args);
  sv_free(&build_args);
  return code;
}
