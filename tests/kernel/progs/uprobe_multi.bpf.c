// One uprobe.multi program counting calls of every function it is attached to.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>

__u64 hits = 0;

SEC("uprobe.multi")
int count_entries(struct pt_regs *ctx)
{
	__sync_fetch_and_add(&hits, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
