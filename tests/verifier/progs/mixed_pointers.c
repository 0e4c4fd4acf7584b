/* One load instruction reached with different pointer types on different paths. The kernel allows
 * packet/map value/stack mixes but refuses a mix with the context ("same insn cannot be used with
 * different pointers": context loads are rewritten per instruction). */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct val { __u32 a; __u32 b; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, struct val);
} vals SEC(".maps");

SEC("xdp")
int pkt_value_or_stack(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u32 k = 0, local[2] = {7, 8};
    __u32 *p;
    struct val *v = bpf_map_lookup_elem(&vals, &k);
    if (!v)
        return 0;
    if (data + 8 > end)
        return 1;
    __u8 sel = *(__u8 *)data;
    if (sel == 1)
        p = data;
    else if (sel == 2)
        p = &v->a;
    else
        p = local;
    barrier_var(p);
    return p[1];
}

SEC("xdp")
int ctx_or_packet(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u32 *p;
    if (data + 8 > end)
        return 1;
    if (*(__u8 *)data & 1)
        p = data;
    else
        p = (__u32 *)ctx;
    barrier_var(p);
    return *p;
}

char LICENSE[] SEC("license") = "GPL";
