// floor.c: the least CPU a client can spend per request in a keepalive storm on this
// machine, for comparison with dmbench's (issue 15). One thread, N ZMTP DEALER
// connections to the signalling port of a `dmbench serve` (PORT: serve's --port + 1),
// Poisson sends at RATE/s each, one HARTBEAT with ack per send (the bytes dmbench
// writes), written at its time; replies read either as they come (prompt: epoll_pwait2
// until the next send) or when the thread wakes for the next send (lazy:
// clock_nanosleep, then epoll_wait(0)). It times nothing, matches nothing and records
// nothing.
//
//   gcc -O2 -o /tmp/floor bench/perf/floor/floor.c -lm
//   /tmp/floor PORT CONNS RATE prompt|lazy SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "floor.h"

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: floor PORT CONNS RATE prompt|lazy SECONDS\n");
		return 2;
	}
	int port = atoi(argv[1]), n = atoi(argv[2]), secs = atoi(argv[5]);
	double rate = atof(argv[3]);
	int lazy = strcmp(argv[4], "lazy") == 0;
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); // as dmbench's pacer
	int ep = epoll_create1(0), one = 1, *fds = malloc(n * sizeof(int));
	for (int i = 0; i < n; i++) {
		int s = dial(port);
		ioctl(s, FIONBIO, &one);
		struct epoll_event e = {.events = EPOLLIN, .data.u32 = i};
		epoll_ctl(ep, EPOLL_CTL_ADD, s, &e);
		fds[i] = s;
	}
	srand48(1);
	long long start = now() + 100000000LL, next = start, end = start + secs * 1000000000LL;
	long sent = 0, replies = 0;
	unsigned char buf[4096];
	struct epoll_event evs[512];
	double c0 = cpu();
	while (next < end) {
		long long t = now();
		int k = 0;
		if (next > t) {
			if (lazy) {
				struct timespec ts = {next / 1000000000LL, next % 1000000000LL};
				clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
				k = epoll_wait(ep, evs, 512, 0);
			} else {
				struct timespec ts = {(next - t) / 1000000000LL, (next - t) % 1000000000LL};
				k = epoll_pwait2(ep, evs, 512, &ts, NULL);
			}
		}
		for (int i = 0; i < k; i++)
			if (read(fds[evs[i].data.u32], buf, sizeof buf) > 0)
				replies++;
		for (t = now(); next <= t && next < end; sent++) {
			write(fds[lrand48() % n], msg, sizeof msg);
			next += (long long)(-log(1 - drand48()) / (rate * n) * 1e9);
		}
	}
	double c = cpu() - c0;
	printf("%s: %ld sent, %ld reads with replies, CPU %.3f s, %.1f µs per request\n", argv[4], sent, replies, c, c / sent * 1e6);
	return 0;
}
