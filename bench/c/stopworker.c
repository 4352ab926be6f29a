/* stop-bench worker: usage stopworker FIFO
 * Installs a SIGTERM handler, then writes "ready <pid>\n" to FIFO and waits.
 * On SIGTERM it writes "bye <pid>\n" to FIFO and _exit(0)s at once, so the
 * harness can check that every worker got the signal and exited by itself. */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fd = -1;
static char bye[32];
static size_t bye_len;

static void on_term(int sig) {
  (void)sig;
  if (write(fd, bye, bye_len) < 0) _exit(3);
  _exit(0);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: stopworker FIFO\n");
    return 2;
  }
  fd = open(argv[1], O_WRONLY | O_CLOEXEC);
  if (fd < 0) {
    perror("open fifo");
    return 2;
  }
  bye_len = (size_t)snprintf(bye, sizeof bye, "bye %d\n", (int)getpid());
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_term;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGTERM, &sa, NULL) != 0) return 2;
  char ready[32];
  int n = snprintf(ready, sizeof ready, "ready %d\n", (int)getpid());
  if (write(fd, ready, (size_t)n) != n) return 2;
  for (;;) pause();
}
