// A syscall program that drains a user ring buffer: sums the first u64 of every sample and counts
// samples, so the test can check what user space wrote.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} requests SEC(".maps");

__u64 total = 0;
__u64 samples = 0;

static long on_sample(struct bpf_dynptr *dynptr, void *ctx)
{
	__u64 value = 0;

	if (bpf_dynptr_read(&value, sizeof(value), dynptr, 0, 0))
		return 1;
	total += value;
	samples += 1;
	return 0;
}

SEC("syscall")
int drain(void *ctx)
{
	return bpf_user_ringbuf_drain(&requests, on_sample, NULL, 0);
}

char LICENSE[] SEC("license") = "GPL";
