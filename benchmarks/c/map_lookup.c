// libbpf reference loop for benchmarks/maps.py: times bpf_map_lookup_elem() over KEYS keys (repeated
// to N lookups) and bpf_map_lookup_batch() over the whole map.
// usage: map_lookup MAP_PIN N KEYS KEY_SIZE VALUE_SIZE   -> prints "lookups seconds batch_entries batch_seconds"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: %s MAP_PIN N KEYS KEY_SIZE VALUE_SIZE\n", argv[0]);
		return 2;
	}
	int fd = bpf_obj_get(argv[1]);
	long n = atol(argv[2]);
	int keys = atoi(argv[3]), ksz = atoi(argv[4]), vsz = atoi(argv[5]);
	if (fd < 0) {
		perror("bpf_obj_get");
		return 1;
	}
	unsigned char key[64] = {0}, value[4096];
	double t0 = now();
	for (long i = 0; i < n; i++) {
		unsigned int k = (unsigned int)(i % keys);
		memcpy(key, &k, sizeof(k));
		if (bpf_map_lookup_elem(fd, key, value)) {
			perror("lookup");
			return 1;
		}
	}
	double single = now() - t0;

	unsigned char *kbuf = malloc((size_t)keys * ksz), *vbuf = malloc((size_t)keys * vsz);
	unsigned long long in_batch = 0, out_batch = 0;
	long got_total = 0;
	int first = 1, rounds = 20;
	t0 = now();
	for (int r = 0; r < rounds; r++) {
		first = 1;
		for (;;) {
			__u32 count = keys;
			LIBBPF_OPTS(bpf_map_batch_opts, opts);
			int err = bpf_map_lookup_batch(fd, first ? NULL : &in_batch, &out_batch, kbuf,
						       vbuf, &count, &opts);
			got_total += count;
			if (err) {
				if (errno == ENOENT)
					break;
				perror("lookup_batch");
				return 1;
			}
			in_batch = out_batch;
			first = 0;
		}
	}
	double batch = now() - t0;
	printf("%ld %.9f %ld %.9f\n", n, single, got_total, batch);
	return 0;
}
