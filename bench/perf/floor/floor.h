// floor.h: what floor.c and ufloor.c share: the clock, the process's CPU, the request's
// bytes and a ZMTP DEALER's blocking connect and handshake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static long long now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000LL + t.tv_nsec;
}

static double cpu(void) {
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

static void readn(int s, unsigned char *b, int n) {
	for (int got = 0; got < n;) {
		int r = read(s, b + got, n - got);
		if (r <= 0) {
			perror("handshake");
			exit(1);
		}
		got += r;
	}
}

// msg is a HARTBEAT with ack, as dmbench writes it (the ZMTP frames of [blank, id,
// command, msgpack]).
static const unsigned char msg[] = {1, 0, 1, 16, '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f',
	1, 8, 'H', 'A', 'R', 'T', 'B', 'E', 'A', 'T', 0, 6, 0x81, 0xa3, 0x61, 0x63, 0x6b, 0xc3};

// dial connects a DEALER to 127.0.0.1:port and completes the ZMTP handshake (NULL
// mechanism), blocking; it exits on failure.
static int dial(int port) {
	static const unsigned char ready[30] = {4, 28, 5, 'R', 'E', 'A', 'D', 'Y', 11, 'S', 'o', 'c', 'k', 'e', 't', '-', 'T', 'y', 'p', 'e', 0, 0, 0, 6, 'D', 'E', 'A', 'L', 'E', 'R'};
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
	a.sin_addr.s_addr = htonl(0x7f000001);
	if (connect(s, (void *)&a, sizeof a)) {
		perror("connect");
		exit(1);
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	unsigned char g[64] = {0xff, 0, 0, 0, 0, 0, 0, 0, 1, 0x7f, 3, 1, 'N', 'U', 'L', 'L'}, in[256];
	write(s, g, 64);
	write(s, ready, sizeof ready);
	readn(s, in, 66); // greeting, READY's flags and size
	readn(s, in, in[65]);
	return s;
}
