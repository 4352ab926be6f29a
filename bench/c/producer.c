/* Log producer for bench/logs.mjs: writes LINES numbered lines of LEN bytes (newline
 * included) to stdout in write(2) batches of about BATCH bytes (whole lines; default
 * 256 KiB, so that it is never the bottleneck):
 *
 *   w<id> <seq, 8 digits, from 1> xxxx...x\n
 *
 * <id> is the worker index from CORRAL_WORKER (corral), else NODE_APP_INSTANCE (pm2),
 * else 0. The harness rebuilds every expected line from (id, seq) and LEN.
 *
 * With a fourth argument FILE, a SIGWINCH handler appends CLOCK_MONOTONIC in ns and a
 * newline to FILE each time the signal arrives (write(2) and clock_gettime are
 * async-signal-safe). The handler has SA_RESTART, and the write loop below also copes
 * with short writes, so a signal never loses or doubles output.
 *
 *   producer LINES [LEN=100] [BATCH=262144] [WINCH_FILE]
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAX_BATCH (1024 * 1024)

static int winch_fd = -1;

static void on_winch(int sig) {
  (void)sig;
  int saved = errno;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  unsigned long long ns = (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
  char buf[32];
  int i = sizeof buf;
  buf[--i] = '\n';
  do {
    buf[--i] = (char)('0' + ns % 10);
    ns /= 10;
  } while (ns);
  ssize_t r = write(winch_fd, buf + i, sizeof buf - i);
  (void)r;
  errno = saved;
}

static void write_all(const char *p, size_t n) {
  while (n > 0) {
    ssize_t w = write(1, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      perror("producer: write");
      exit(1);
    }
    p += w;
    n -= (size_t)w;
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: producer LINES [LEN=100] [BATCH=262144] [WINCH_FILE]\n");
    return 2;
  }
  long lines = atol(argv[1]);
  long len = argc > 2 ? atol(argv[2]) : 100;
  long batch = argc > 3 ? atol(argv[3]) : 262144;
  const char *id = getenv("CORRAL_WORKER");
  if (!id || !*id) id = getenv("NODE_APP_INSTANCE");
  if (!id || !*id) id = "0";
  long prefix = 1 + (long)strlen(id) + 1 + 8 + 1; /* "w<id> <seq8> " */
  if (lines < 0 || lines > 99999999 || len < prefix + 1 || batch < len || batch > MAX_BATCH) {
    fprintf(stderr, "producer: need 0 <= LINES <= 99999999, %ld <= LEN <= BATCH <= %d\n", prefix + 1, MAX_BATCH);
    return 2;
  }
  if (argc > 4) {
    winch_fd = open(argv[4], O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (winch_fd < 0) {
      perror("producer: open WINCH_FILE");
      return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_winch;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGWINCH, &sa, NULL);
  }

  static char buf[MAX_BATCH];
  long per_batch = batch / len;
  /* Fill the batch with line templates once; only the sequence digits change. */
  for (long j = 0; j < per_batch; j++) {
    char *l = buf + j * len;
    int k = snprintf(l, (size_t)len, "w%s %08d ", id, 0);
    memset(l + k, 'x', (size_t)(len - 1 - k));
    l[len - 1] = '\n';
  }
  long seq_off = 1 + (long)strlen(id) + 1;
  long seq = 1;
  while (seq <= lines) {
    long n = lines - seq + 1 < per_batch ? lines - seq + 1 : per_batch;
    for (long j = 0; j < n; j++) {
      char *d = buf + j * len + seq_off + 8;
      long s = seq + j;
      for (int k = 0; k < 8; k++) {
        *--d = (char)('0' + s % 10);
        s /= 10;
      }
    }
    write_all(buf, (size_t)(n * len));
    seq += n;
  }
  return 0;
}
