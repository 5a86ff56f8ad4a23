/*
 * peer: a libzmq reference peer for dmbench's transport tests and benchmarks.
 *
 * Build: cc -O2 -o peer peer.c -lzmq   (Debian: apt-get install libzmq3-dev)
 *
 * Modes:
 *
 *   peer router [-H IVL_MS] ADDR
 *       ROUTER echo server. Binds ADDR ("tcp://127.0.0.1:0" lets the kernel choose),
 *       prints the bound endpoint as stdout line 1, then sends every message back to
 *       its sender, frame for frame, until stdin closes or SIGTERM/SIGINT. On exit it
 *       prints "echoed=N cpu_user_us=U cpu_sys_us=S" as stdout line 2.
 *
 *   peer dealer [-H IVL_MS] [-n COUNT] [-w] ADDR CONNS INFLIGHT SECONDS
 *       Closed-loop echo client: CONNS DEALER sockets, INFLIGHT messages in flight on
 *       each; every reply is answered with a new request. A request is
 *       ["", 16-byte id, "HARTBEAT", msgpack {"ack": true}]. One warm-up round trip per
 *       socket is made first, outside the measurement. The run ends after SECONDS, or
 *       once COUNT round trips completed (-n; SECONDS is then a safety limit and not
 *       reaching COUNT is an error). With -w it prints "ready" after the warm-up and
 *       waits for a line on stdin before starting. At the end it prints one line:
 *       "roundtrips=N seconds=S cpu_user_us=U cpu_sys_us=S" (this process's CPU,
 *       libzmq's I/O thread included, during the measured run), and with one request in
 *       flight in all (1 socket, INFLIGHT 1) " p50_us=P p99_us=Q": the round trips' median
 *       and 99th percentile, each timed from its request's send to its reply.
 *
 *   peer relay [-H IVL_MS] [-T TIMEOUT_MS] [-i IDENTITY] ADDR
 *       One DEALER connected to ADDR (no reconnection) that relays messages between
 *       stdin/stdout and the socket. Framing both ways, all integers big-endian:
 *       u32 frame count, then for each frame u32 length and the bytes. Closing stdin
 *       ends it (exit 0). If the connection is lost it prints "disconnected" on stderr
 *       and exits 3, so a heartbeat timeout (-T) is visible to the caller.
 *
 *   -H IVL_MS   set ZMQ_HEARTBEAT_IVL (libzmq then sends ZMTP PING commands)
 *   -T MS       set ZMQ_HEARTBEAT_TIMEOUT (relay only; default: libzmq's)
 *   -i ID       set ZMQ_ROUTING_ID (relay only)
 *
 * Exit status: 0 on success, 1 on a run-time error, 2 on bad usage, 3 on disconnection.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static void die(const char *what) {
    fprintf(stderr, "peer: %s: %s\n", what, zmq_strerror(zmq_errno()));
    exit(1);
}

static void usage(void) {
    fprintf(stderr,
            "usage:\n"
            "  peer router [-H IVL_MS] ADDR\n"
            "  peer dealer [-H IVL_MS] [-n COUNT] [-w] ADDR CONNS INFLIGHT SECONDS\n"
            "  peer relay [-H IVL_MS] [-T TIMEOUT_MS] [-i IDENTITY] ADDR\n");
    exit(2);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void cpu_us(long long *user, long long *sys) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    *user = (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec;
    *sys = (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec;
}

static void set_int(void *sock, int option, int value, const char *name) {
    if (zmq_setsockopt(sock, option, &value, sizeof value) != 0) die(name);
}

/* ---------------------------------------------------------------- router */

static int run_router(const char *addr, int heartbeat_ms) {
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_ROUTER);
    if (!sock) die("zmq_socket");
    set_int(sock, ZMQ_LINGER, 0, "ZMQ_LINGER");
    set_int(sock, ZMQ_SNDHWM, 0, "ZMQ_SNDHWM");
    set_int(sock, ZMQ_RCVHWM, 0, "ZMQ_RCVHWM");
    if (heartbeat_ms > 0) set_int(sock, ZMQ_HEARTBEAT_IVL, heartbeat_ms, "ZMQ_HEARTBEAT_IVL");
    if (zmq_bind(sock, addr) != 0) die("zmq_bind");

    char endpoint[256];
    size_t len = sizeof endpoint;
    if (zmq_getsockopt(sock, ZMQ_LAST_ENDPOINT, endpoint, &len) != 0) die("ZMQ_LAST_ENDPOINT");
    printf("%s\n", endpoint);
    fflush(stdout);

    long long u0, s0;
    cpu_us(&u0, &s0);
    unsigned long long echoed = 0;
    zmq_msg_t part;
    zmq_msg_init(&part);
    zmq_pollitem_t items[2] = {
        {sock, 0, ZMQ_POLLIN, 0},
        {NULL, STDIN_FILENO, ZMQ_POLLIN, 0},
    };
    while (!stop_requested) {
        int n = zmq_poll(items, 2, 200);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            die("zmq_poll");
        }
        if (items[1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
            char buf[256];
            ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
            if (r <= 0) break; /* stdin closed: the parent is done with us */
        }
        if (!(items[0].revents & ZMQ_POLLIN)) continue;
        /* Echo every message that is waiting, frame for frame (the routing id first,
         * so each message goes back to its sender). */
        for (int batch = 0; batch < 4096; batch++) {
            if (zmq_msg_recv(&part, sock, ZMQ_DONTWAIT) < 0) {
                if (zmq_errno() == EAGAIN || zmq_errno() == EINTR) break;
                die("zmq_msg_recv");
            }
            for (;;) {
                int more = zmq_msg_more(&part);
                if (zmq_msg_send(&part, sock, more ? ZMQ_SNDMORE : 0) < 0) die("zmq_msg_send");
                if (!more) break;
                if (zmq_msg_recv(&part, sock, 0) < 0) die("zmq_msg_recv");
            }
            echoed++;
        }
    }
    long long u1, s1;
    cpu_us(&u1, &s1);
    printf("echoed=%llu cpu_user_us=%lld cpu_sys_us=%lld\n", echoed, u1 - u0, s1 - s0);
    fflush(stdout);
    zmq_msg_close(&part);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return 0;
}

/* ---------------------------------------------------------------- dealer */

static const unsigned char props_ack[] = {0x81, 0xa3, 'a', 'c', 'k', 0xc3}; /* {"ack": true} */

static void send_request(void *sock, unsigned long long seq) {
    unsigned char id[16] = {0};
    for (int i = 0; i < 8; i++) id[15 - i] = (unsigned char)(seq >> (8 * i));
    if (zmq_send(sock, "", 0, ZMQ_SNDMORE) < 0 || zmq_send(sock, id, sizeof id, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, "HARTBEAT", 8, ZMQ_SNDMORE) < 0 ||
        zmq_send(sock, props_ack, sizeof props_ack, 0) < 0)
        die("zmq_send");
}

/* recv_reply receives one whole message; it returns its frame count, 0 if none was
 * waiting (with ZMQ_DONTWAIT). */
static int recv_reply(void *sock, zmq_msg_t *part, int flags) {
    if (zmq_msg_recv(part, sock, flags) < 0) {
        if (zmq_errno() == EAGAIN) return 0;
        die("zmq_msg_recv");
    }
    int frames = 1;
    while (zmq_msg_more(part)) {
        if (zmq_msg_recv(part, sock, 0) < 0) die("zmq_msg_recv");
        frames++;
    }
    return frames;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int run_dealer(const char *addr, int conns, int inflight, double seconds, long long count,
                      int wait_go, int heartbeat_ms) {
    void *ctx = zmq_ctx_new();
    void **socks = calloc((size_t)conns, sizeof *socks);
    zmq_pollitem_t *items = calloc((size_t)conns, sizeof *items);
    if (!socks || !items) {
        fprintf(stderr, "peer: out of memory\n");
        return 1;
    }
    zmq_msg_t part;
    zmq_msg_init(&part);
    for (int i = 0; i < conns; i++) {
        socks[i] = zmq_socket(ctx, ZMQ_DEALER);
        if (!socks[i]) die("zmq_socket");
        set_int(socks[i], ZMQ_LINGER, 0, "ZMQ_LINGER");
        if (heartbeat_ms > 0) set_int(socks[i], ZMQ_HEARTBEAT_IVL, heartbeat_ms, "ZMQ_HEARTBEAT_IVL");
        if (zmq_connect(socks[i], addr) != 0) die("zmq_connect");
        items[i].socket = socks[i];
        items[i].events = ZMQ_POLLIN;
    }
    /* Warm-up: one round trip per socket, so every connection is up. */
    unsigned long long seq = 0;
    for (int i = 0; i < conns; i++) send_request(socks[i], seq++);
    for (int i = 0; i < conns; i++) {
        set_int(socks[i], ZMQ_RCVTIMEO, 10000, "ZMQ_RCVTIMEO");
        if (zmq_msg_recv(&part, socks[i], 0) < 0) {
            fprintf(stderr, "peer: no warm-up reply from %s within 10 s: %s\n", addr,
                    zmq_strerror(zmq_errno()));
            return 1;
        }
        while (zmq_msg_more(&part))
            if (zmq_msg_recv(&part, socks[i], 0) < 0) die("zmq_msg_recv");
    }
    if (wait_go) {
        printf("ready\n");
        fflush(stdout);
        char line[64];
        if (!fgets(line, sizeof line, stdin)) return 0; /* the parent gave up */
    }

    long long u0, s0;
    cpu_us(&u0, &s0);
    double start = now_seconds(), end = start + seconds;
    long long issued = 0, done = 0, bad = 0;
    long long *outstanding = calloc((size_t)conns, sizeof *outstanding);
    for (int i = 0; i < conns; i++)
        for (int k = 0; k < inflight && (count <= 0 || issued < count); k++) {
            send_request(socks[i], seq++);
            issued++;
            outstanding[i]++;
        }
    /* With one request in flight in all, each reply's round trip is timed (for p50/p99). */
    int timed = conns * inflight == 1;
    size_t nrtt = 0, caprtt = 0;
    double *rtts = NULL;
    double sent_at = start;
    int stopping = 0;
    double t = start;
    while (!stop_requested) {
        if (count > 0 && done >= count) break;
        if (stopping && (count <= 0 || t >= end)) break;
        int n = zmq_poll(items, conns, 100);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            die("zmq_poll");
        }
        t = now_seconds();
        if (t >= end) stopping = 1;
        for (int i = 0; i < conns && n > 0; i++) {
            if (!(items[i].revents & ZMQ_POLLIN)) continue;
            int frames;
            while ((frames = recv_reply(socks[i], &part, ZMQ_DONTWAIT)) > 0) {
                if (frames != 4) bad++;
                done++;
                outstanding[i]--;
                if (timed) {
                    double got = now_seconds();
                    if (nrtt == caprtt) {
                        caprtt = caprtt ? 2 * caprtt : 65536;
                        rtts = realloc(rtts, caprtt * sizeof *rtts);
                        if (!rtts) {
                            fprintf(stderr, "peer: out of memory\n");
                            return 1;
                        }
                    }
                    rtts[nrtt++] = got - sent_at;
                    sent_at = got;
                }
                if (!stopping && (count <= 0 || issued < count)) {
                    send_request(socks[i], seq++);
                    issued++;
                    outstanding[i]++;
                }
            }
        }
    }
    double elapsed = now_seconds() - start;
    long long u1, s1;
    cpu_us(&u1, &s1);
    printf("roundtrips=%lld seconds=%.6f cpu_user_us=%lld cpu_sys_us=%lld", done, elapsed, u1 - u0,
           s1 - s0);
    if (nrtt > 0) {
        qsort(rtts, nrtt, sizeof *rtts, cmp_double);
        printf(" p50_us=%.1f p99_us=%.1f", rtts[nrtt / 2] * 1e6, rtts[(size_t)(0.99 * (double)(nrtt - 1))] * 1e6);
    }
    printf("\n");
    free(rtts);
    fflush(stdout);
    int status = 0;
    if (bad > 0) {
        fprintf(stderr, "peer: %lld replies did not have 4 frames\n", bad);
        status = 1;
    }
    if (count > 0 && done < count) {
        fprintf(stderr, "peer: only %lld of %lld round trips within %.0f s\n", done, count, seconds);
        status = 1;
    }
    zmq_msg_close(&part);
    for (int i = 0; i < conns; i++) zmq_close(socks[i]);
    zmq_ctx_term(ctx);
    free(outstanding);
    free(items);
    free(socks);
    return status;
}

/* ---------------------------------------------------------------- relay */

static int read_full(int fd, void *buf, size_t n) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

static void write_full(int fd, const void *buf, size_t n) {
    const unsigned char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            fprintf(stderr, "peer: writing stdout: %s\n", strerror(errno));
            exit(1);
        }
        p += w;
        n -= (size_t)w;
    }
}

static uint32_t get_u32(const unsigned char b[4]) {
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static void put_u32(unsigned char b[4], uint32_t v) {
    b[0] = (unsigned char)(v >> 24);
    b[1] = (unsigned char)(v >> 16);
    b[2] = (unsigned char)(v >> 8);
    b[3] = (unsigned char)v;
}

/* relay_in reads one framed message from stdin and sends it; -1 at end of stdin. */
static int relay_in(void *sock) {
    unsigned char hdr[4];
    if (read_full(STDIN_FILENO, hdr, 4) != 0) return -1;
    uint32_t frames = get_u32(hdr);
    if (frames == 0) {
        fprintf(stderr, "peer: relay: a message needs at least one frame\n");
        exit(1);
    }
    for (uint32_t i = 0; i < frames; i++) {
        if (read_full(STDIN_FILENO, hdr, 4) != 0) return -1;
        uint32_t len = get_u32(hdr);
        zmq_msg_t part;
        if (zmq_msg_init_size(&part, len) != 0) die("zmq_msg_init_size");
        if (len > 0 && read_full(STDIN_FILENO, zmq_msg_data(&part), len) != 0) return -1;
        if (zmq_msg_send(&part, sock, i + 1 < frames ? ZMQ_SNDMORE : 0) < 0) die("zmq_msg_send");
    }
    return 0;
}

/* relay_out writes one received message to stdout, framed. */
static void relay_out(void *sock) {
    zmq_msg_t parts[64];
    uint32_t frames = 0;
    for (;;) {
        if (frames == 64) {
            fprintf(stderr, "peer: relay: more than 64 frames in a message\n");
            exit(1);
        }
        zmq_msg_init(&parts[frames]);
        if (zmq_msg_recv(&parts[frames], sock, 0) < 0) die("zmq_msg_recv");
        int more = zmq_msg_more(&parts[frames]);
        frames++;
        if (!more) break;
    }
    unsigned char hdr[4];
    put_u32(hdr, frames);
    write_full(STDOUT_FILENO, hdr, 4);
    for (uint32_t i = 0; i < frames; i++) {
        put_u32(hdr, (uint32_t)zmq_msg_size(&parts[i]));
        write_full(STDOUT_FILENO, hdr, 4);
        write_full(STDOUT_FILENO, zmq_msg_data(&parts[i]), zmq_msg_size(&parts[i]));
        zmq_msg_close(&parts[i]);
    }
}

static int run_relay(const char *addr, int heartbeat_ms, int timeout_ms, const char *identity) {
    void *ctx = zmq_ctx_new();
    void *sock = zmq_socket(ctx, ZMQ_DEALER);
    if (!sock) die("zmq_socket");
    set_int(sock, ZMQ_LINGER, 1000, "ZMQ_LINGER");
    set_int(sock, ZMQ_RECONNECT_IVL, -1, "ZMQ_RECONNECT_IVL");
    if (heartbeat_ms > 0) set_int(sock, ZMQ_HEARTBEAT_IVL, heartbeat_ms, "ZMQ_HEARTBEAT_IVL");
    if (timeout_ms > 0) set_int(sock, ZMQ_HEARTBEAT_TIMEOUT, timeout_ms, "ZMQ_HEARTBEAT_TIMEOUT");
    if (identity && zmq_setsockopt(sock, ZMQ_ROUTING_ID, identity, strlen(identity)) != 0)
        die("ZMQ_ROUTING_ID");
    if (zmq_socket_monitor(sock, "inproc://monitor", ZMQ_EVENT_DISCONNECTED) != 0)
        die("zmq_socket_monitor");
    void *mon = zmq_socket(ctx, ZMQ_PAIR);
    if (!mon || zmq_connect(mon, "inproc://monitor") != 0) die("monitor connect");
    if (zmq_connect(sock, addr) != 0) die("zmq_connect");

    zmq_pollitem_t items[3] = {
        {sock, 0, ZMQ_POLLIN, 0},
        {mon, 0, ZMQ_POLLIN, 0},
        {NULL, STDIN_FILENO, ZMQ_POLLIN, 0},
    };
    int status = 0;
    while (!stop_requested) {
        int n = zmq_poll(items, 3, 200);
        if (n < 0) {
            if (zmq_errno() == EINTR) continue;
            die("zmq_poll");
        }
        if (items[0].revents & ZMQ_POLLIN) {
            int more_waiting = 1;
            while (more_waiting) {
                relay_out(sock);
                int events = 0;
                size_t len = sizeof events;
                zmq_getsockopt(sock, ZMQ_EVENTS, &events, &len);
                more_waiting = events & ZMQ_POLLIN;
            }
        }
        if (items[1].revents & ZMQ_POLLIN) {
            fprintf(stderr, "disconnected\n");
            status = 3;
            break;
        }
        if (items[2].revents & (ZMQ_POLLIN | ZMQ_POLLERR)) {
            if (relay_in(sock) != 0) break; /* stdin closed: done */
        }
    }
    zmq_socket_monitor(sock, NULL, 0);
    zmq_close(mon);
    zmq_close(sock);
    zmq_ctx_term(ctx);
    return status;
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv) {
    if (argc < 2) usage();
    const char *mode = argv[1];
    int heartbeat_ms = 0, timeout_ms = 0, wait_go = 0;
    long long count = 0;
    const char *identity = NULL;
    optind = 2;
    int c;
    while ((c = getopt(argc, argv, "H:T:n:wi:")) != -1) {
        switch (c) {
        case 'H': heartbeat_ms = atoi(optarg); break;
        case 'T': timeout_ms = atoi(optarg); break;
        case 'n': count = atoll(optarg); break;
        case 'w': wait_go = 1; break;
        case 'i': identity = optarg; break;
        default: usage();
        }
    }
    int rest = argc - optind;
    char **args = argv + optind;

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (strcmp(mode, "router") == 0 && rest == 1) return run_router(args[0], heartbeat_ms);
    if (strcmp(mode, "relay") == 0 && rest == 1) return run_relay(args[0], heartbeat_ms, timeout_ms, identity);
    if (strcmp(mode, "dealer") == 0 && rest == 4) {
        int conns = atoi(args[1]), inflight = atoi(args[2]);
        double seconds = atof(args[3]);
        if (conns < 1 || inflight < 1 || seconds <= 0) usage();
        return run_dealer(args[0], conns, inflight, seconds, count, wait_go, heartbeat_ms);
    }
    usage();
    return 2;
}
