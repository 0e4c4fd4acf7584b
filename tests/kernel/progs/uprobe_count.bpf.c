// Uprobe programs counting calls of a user function, recording its first argument and its result.
#include <linux/bpf.h>
#include <linux/ptrace.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

__u64 calls = 0;
__u64 last_arg = 0;
__u64 returns = 0;
__u64 last_ret = 0;

SEC("uprobe")
int BPF_KPROBE(on_call, long arg)
{
	__sync_fetch_and_add(&calls, 1);
	last_arg = arg;
	return 0;
}

SEC("uretprobe")
int BPF_KRETPROBE(on_return, long ret)
{
	__sync_fetch_and_add(&returns, 1);
	last_ret = ret;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
