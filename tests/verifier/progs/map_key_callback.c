// for_each_map_elem callbacks and their key pointer (PTR_TO_MAP_KEY): readable within key_size,
// never writable. Regression corpus for pybpf's verifier vs the kernel.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} counts SEC(".maps");

struct sum_ctx { __u64 total; };

static long add_key(void *map, __u32 *key, __u64 *value, struct sum_ctx *ctx)
{
    ctx->total += *key + *value;
    return 0;
}

static long write_key(void *map, __u32 *key, __u64 *value, struct sum_ctx *ctx)
{
    *(volatile __u32 *)key = 7;
    return 0;
}

static long read_past_key(void *map, __u32 *key, __u64 *value, struct sum_ctx *ctx)
{
    ctx->total += *(volatile __u64 *)key;        /* 8 bytes from a 4-byte key */
    return 0;
}

SEC("xdp")
int reads_key(struct xdp_md *xdp)
{
    struct sum_ctx ctx = {};
    bpf_for_each_map_elem(&counts, add_key, &ctx, 0);
    return ctx.total ? XDP_DROP : XDP_PASS;
}

SEC("xdp")
int writes_key(struct xdp_md *xdp)
{
    struct sum_ctx ctx = {};
    bpf_for_each_map_elem(&counts, write_key, &ctx, 0);
    return XDP_PASS;
}

SEC("xdp")
int reads_past_key(struct xdp_md *xdp)
{
    struct sum_ctx ctx = {};
    bpf_for_each_map_elem(&counts, read_past_key, &ctx, 0);
    return ctx.total ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
