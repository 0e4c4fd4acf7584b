/* Global (non-static) subprograms. With BTF func_info the kernel verifies each global function
 * once, on its own, with arguments typed from its prototype (a `__u32 *` is 4 bytes of memory or
 * NULL, `struct xdp_md *` the context, integers unknown scalars); a call only checks the arguments
 * and returns an unknown scalar. Following each call with the caller's registers, as for a static
 * function, would accept global_two_kinds, global_scalar and global_unknown_return. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val { __u32 a; __u32 b; };
struct big { __u64 x[4]; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct val);
} vals SEC(".maps");

/* reads 8 bytes through a pointer to 4: out of bounds for every caller */
__attribute__((noinline)) int global_sum(__u32 *p) { if (!p) return 0; return p[0] + p[1]; }
__attribute__((noinline)) int global_first(__u32 *p) { if (!p) return 0; return p[0]; }
__attribute__((noinline)) int global_pair(struct val *v) { if (!v) return 0; v->b = v->a + 1; return v->a; }
__attribute__((noinline)) int global_big(struct big *b) { if (!b) return 0; return b->x[0] + b->x[3]; }
__attribute__((noinline)) int global_low_bit(__u32 x) { return x & 1; }

__attribute__((noinline)) int global_pkt_byte(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 14 > end)
        return 0;
    return *(__u8 *)(data + 12);
}

__attribute__((noinline)) int global_index(__u32 i)
{
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    return ((__u32 *)v)[i];          /* i is any u32 here: the kernel cannot bound it */
}

__attribute__((noinline)) int global_index_checked(__u32 i)
{
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v || i > 1)
        return 0;
    return ((__u32 *)v)[i];
}

SEC("xdp") int global_two_kinds(struct xdp_md *ctx)
{
    __u32 k = 0, local[2] = {1, 2};
    int r = global_sum(local);
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (v) r += global_sum(&v->a);
    return r;
}

SEC("xdp") int global_ok(struct xdp_md *ctx)
{
    __u32 k = 0, local[2] = {1, 2};
    int r = global_first(local);
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    r += global_first(v ? &v->a : 0);
    if (v) r += global_pair(v);
    return r & 3;
}

SEC("xdp") int global_ctx(struct xdp_md *ctx)
{
    return global_pkt_byte(ctx) ? XDP_PASS : XDP_DROP;
}

SEC("xdp") int global_scalar(struct xdp_md *ctx)
{
    return global_index(1);
}

SEC("xdp") int global_scalar_checked(struct xdp_md *ctx)
{
    return global_index_checked(1) ? XDP_DROP : XDP_PASS;
}

SEC("xdp") int global_small_buffer(struct xdp_md *ctx)
{
    __u64 small[2] = {1, 2};
    return global_big((struct big *)small);
}

/* the callee returns 0 or 1, but a global function's result is any scalar to its caller */
SEC("xdp") int global_unknown_return(struct xdp_md *ctx)
{
    __u32 k = 0;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    return ((__u32 *)v)[global_low_bit(ctx->ingress_ifindex)];
}

char LICENSE[] SEC("license") = "GPL";
