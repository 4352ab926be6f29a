/* startup probe: prints CLOCK_MONOTONIC in ns as its first act, then exits 0.
 * The harness compares it with process.hrtime.bigint() (also CLOCK_MONOTONIC)
 * taken right before it spawned the init that runs this probe. */
#include <stdio.h>
#include <time.h>

int main(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  printf("%lld\n", (long long)ts.tv_sec * 1000000000LL + (long long)ts.tv_nsec);
  return 0;
}
