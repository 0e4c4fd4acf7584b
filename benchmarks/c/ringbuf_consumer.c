// libbpf reference consumer for benchmarks/ringbuf.py: fills a pinned ring buffer by test-running a
// pinned producer program, then times ring_buffer__consume() over the records (one callback each).
// usage: ringbuf_consumer MAP_PIN PROG_PIN RECORDS_PER_ROUND ROUNDS   -> prints "records seconds"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

static long long seen;

static int on_record(void *ctx, void *data, size_t size)
{
	(void)ctx; (void)data; (void)size;
	seen++;
	return 0;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: %s MAP_PIN PROG_PIN RECORDS ROUNDS\n", argv[0]);
		return 2;
	}
	int map_fd = bpf_obj_get(argv[1]);
	int prog_fd = bpf_obj_get(argv[2]);
	int records = atoi(argv[3]), rounds = atoi(argv[4]);
	if (map_fd < 0 || prog_fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	struct ring_buffer *rb = ring_buffer__new(map_fd, on_record, NULL, NULL);
	if (!rb) {
		perror("ring_buffer__new");
		return 1;
	}
	unsigned char pkt[64] = {0};
	double total = 0;
	long long expected = 0;
	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = pkt, .data_size_in = sizeof(pkt),
			    .repeat = records);
		if (bpf_prog_test_run_opts(prog_fd, &opts)) {
			perror("bpf_prog_test_run_opts");
			return 1;
		}
		expected += records;
		double t0 = now();
		while (seen < expected) {
			if (ring_buffer__consume(rb) < 0) {
				perror("ring_buffer__consume");
				return 1;
			}
		}
		total += now() - t0;
	}
	printf("%lld %.9f\n", seen, total);
	ring_buffer__free(rb);
	return 0;
}
