/* A program that tail-calls itself until the kernel's limit (MAX_TAIL_CALL_CNT) stops it. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} runs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u32);
} self SEC(".maps");

SEC("xdp")
int xdp_self_tail(struct xdp_md *ctx)
{
    __u32 zero = 0;
    __u64 *n = bpf_map_lookup_elem(&runs, &zero);
    if (n)
        *n += 1;
    bpf_tail_call(ctx, &self, 0);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
