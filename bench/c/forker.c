// A worker with a big idle process tree: forks N children that only wait (pause), then
// prints "forked N" and waits too. SIGTERM to its process group ends them all (the default
// action). Used by bench/big-tree.mjs.
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 5000;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid < 0) {
      perror("fork");
      return 1;
    }
    if (pid == 0) {
      for (;;) pause();
    }
  }
  printf("forked %d\n", n);
  fflush(stdout);
  for (;;) pause();
}
