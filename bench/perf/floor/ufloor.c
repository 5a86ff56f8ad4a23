// ufloor.c: floor.c on io_uring (issue 15), the least CPU a client spends per request in
// a keepalive storm when a wake-up's sends and replies cost one system call: each send is
// a submission entry, submitted by the io_uring_enter that then waits for the next send
// (min_complete so high that only the time ends it), and replies arrive by one multishot
// recv per connection into a ring of provided buffers (SINGLE_ISSUER, DEFER_TASKRUN: a
// reply wakes nobody). It times nothing, matches nothing and records nothing.
//
//   apt-get install liburing-dev
//   gcc -O2 -o /tmp/ufloor bench/perf/floor/ufloor.c -luring -lm
//   /tmp/ufloor PORT CONNS RATE SECONDS
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <liburing.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define NBUF 4096
#define BSZ 256

#include "floor.h"

static struct io_uring_sqe *sqe(struct io_uring *ring) {
	struct io_uring_sqe *e = io_uring_get_sqe(ring);
	if (!e) {
		io_uring_submit(ring);
		e = io_uring_get_sqe(ring);
	}
	return e;
}

static void recv_multishot(struct io_uring *ring, int fd, int i) {
	struct io_uring_sqe *e = sqe(ring);
	io_uring_prep_recv_multishot(e, fd, NULL, 0, 0);
	e->flags |= IOSQE_BUFFER_SELECT;
	e->buf_group = 0;
	io_uring_sqe_set_data64(e, (1ULL << 32) | i);
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: ufloor PORT CONNS RATE SECONDS\n");
		return 2;
	}
	int port = atoi(argv[1]), n = atoi(argv[2]), secs = atoi(argv[4]);
	double rate = atof(argv[3]);
	prctl(PR_SET_TIMERSLACK, 1, 0, 0, 0); // as dmbench's pacer
	struct io_uring ring;
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_CQSIZE, .cq_entries = 65536};
	int r = io_uring_queue_init_params(4096, &ring, &p);
	if (r < 0) {
		fprintf(stderr, "io_uring_queue_init: %s\n", strerror(-r));
		return 1;
	}
	struct io_uring_buf_ring *br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = 0};
	if ((r = io_uring_register_buf_ring(&ring, &reg, 0))) {
		fprintf(stderr, "io_uring_register_buf_ring: %s\n", strerror(-r));
		return 1;
	}
	io_uring_buf_ring_init(br);
	unsigned char *bufs = malloc(NBUF * BSZ);
	int mask = io_uring_buf_ring_mask(NBUF);
	for (int i = 0; i < NBUF; i++)
		io_uring_buf_ring_add(br, bufs + i * BSZ, BSZ, i, mask, i);
	io_uring_buf_ring_advance(br, NBUF);
	int *fds = malloc(n * sizeof(int));
	for (int i = 0; i < n; i++) {
		int s = dial(port);
		fds[i] = s;
		recv_multishot(&ring, s, i);
	}
	io_uring_submit(&ring);
	srand48(1);
	long long start = now() + 100000000LL, next = start, end = start + secs * 1000000000LL;
	long sent = 0, replies = 0, enters = 0;
	double c0 = cpu();
	while (next < end) {
		long long t = now();
		if (next > t) {
			struct __kernel_timespec ts = {(next - t) / 1000000000LL, (next - t) % 1000000000LL};
			struct io_uring_cqe *cqe;
			io_uring_submit_and_wait_timeout(&ring, &cqe, 1 << 20, &ts, NULL);
			enters++;
		}
		struct io_uring_cqe *cqe;
		unsigned head, seen = 0, recycled = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			seen++;
			unsigned long long d = cqe->user_data;
			if (d >> 32 != 1)
				continue;
			if (cqe->res > 0) {
				replies++;
				int id = cqe->flags >> IORING_CQE_BUFFER_SHIFT;
				io_uring_buf_ring_add(br, bufs + id * BSZ, BSZ, id, mask, recycled++);
			}
			if (!(cqe->flags & IORING_CQE_F_MORE))
				recv_multishot(&ring, fds[d & 0xffffffff], d & 0xffffffff);
		}
		io_uring_buf_ring_advance(br, recycled);
		io_uring_cq_advance(&ring, seen);
		for (t = now(); next <= t && next < end; sent++) {
			struct io_uring_sqe *e = sqe(&ring);
			io_uring_prep_send(e, fds[lrand48() % n], msg, sizeof msg, 0);
			io_uring_sqe_set_data64(e, 0);
			e->flags |= IOSQE_CQE_SKIP_SUCCESS;
			next += (long long)(-log(1 - drand48()) / (rate * n) * 1e9);
		}
	}
	double c = cpu() - c0;
	printf("uring: %ld sent, %ld replies, %ld waits, CPU %.3f s, %.1f µs per request\n", sent, replies, enters, c, c / sent * 1e6);
	return 0;
}
