/* XDP programs for VM-vs-kernel tests: a packet parser, head/tail/meta adjustment, loops and maps. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <linux/tcp.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 256);
    __type(key, __u32);
    __type(value, __u64);
} proto_count SEC(".maps");

struct flow { __u32 saddr, daddr; };
struct flow_stats { __u64 packets, bytes; };

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 64);
    __type(key, struct flow);
    __type(value, struct flow_stats);
} flows SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} percpu_hits SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} results SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 4);
    __type(value, __u32);
} fifo SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK);
    __uint(max_entries, 4);
    __type(value, __u32);
} lifo SEC(".maps");

struct lpm_key { __u32 prefixlen; __u32 addr; };
struct {
    __uint(type, BPF_MAP_TYPE_LPM_TRIE);
    __uint(max_entries, 16);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, struct lpm_key);
    __type(value, __u32);
} routes SEC(".maps");

struct locked { struct bpf_spin_lock lock; __u64 value; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct locked);
} guarded SEC(".maps");

static __always_inline void swap_mac(struct ethhdr *eth)
{
    __u8 tmp[ETH_ALEN];
    __builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
    __builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
    __builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
}

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    __u32 cpu_slot = 0;
    __u64 *hits = bpf_map_lookup_elem(&percpu_hits, &cpu_slot);
    if (hits)
        *hits += 1;
    if ((void *)(eth + 1) > end)
        return XDP_ABORTED;
    if (eth->h_proto != bpf_htons(ETH_P_IP))
        return XDP_PASS;
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > end || ip->ihl < 5)
        return XDP_DROP;
    __u32 proto = ip->protocol;
    __u64 *count = bpf_map_lookup_elem(&proto_count, &proto);
    if (count)
        __sync_fetch_and_add(count, 1);
    struct flow key = { .saddr = ip->saddr, .daddr = ip->daddr };
    struct flow_stats *st = bpf_map_lookup_elem(&flows, &key);
    if (st) {
        st->packets++;
        st->bytes += end - data;
    } else {
        struct flow_stats init = { 1, end - data };
        bpf_map_update_elem(&flows, &key, &init, BPF_NOEXIST);
    }
    if (proto == IPPROTO_ICMP)
        return XDP_DROP;
    if (proto == IPPROTO_UDP) {
        struct udphdr *udp = (void *)ip + ip->ihl * 4;
        if ((void *)(udp + 1) > end)
            return XDP_DROP;
        if (udp->dest == bpf_htons(7)) {            /* echo: bounce it back */
            __u32 a = ip->saddr;
            ip->saddr = ip->daddr;
            ip->daddr = a;
            __u16 p = udp->source;
            udp->source = udp->dest;
            udp->dest = p;
            swap_mac(eth);
            return XDP_TX;
        }
    }
    return XDP_PASS;
}

SEC("xdp")
int xdp_adjust(struct xdp_md *ctx)
{
    if (bpf_xdp_adjust_head(ctx, -8))
        return XDP_ABORTED;
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 8 > end)
        return XDP_ABORTED;
    __builtin_memcpy(data, "PYBPFVM!", 8);
    if (bpf_xdp_adjust_tail(ctx, -4))
        return XDP_DROP;
    if (bpf_xdp_adjust_meta(ctx, -8))
        return XDP_DROP;
    data = (void *)(long)ctx->data;
    void *meta = (void *)(long)ctx->data_meta;
    if (meta + 8 > data)
        return XDP_DROP;
    *(__u32 *)meta = 0xabcd1234;
    *(__u32 *)(meta + 4) = (__u32)((long)ctx->data_end - (long)ctx->data);
    return XDP_PASS;
}

struct loop_ctx { __u64 sum; __u32 limit; };

static long square_step(__u64 i, void *arg)
{
    struct loop_ctx *lc = arg;
    lc->sum += i * i;
    return i + 1 >= lc->limit ? 1 : 0;
}

static long sum_values(void *map, __u32 *key, __u64 *value, void *arg)
{
    *(__u64 *)arg += *value + *key;
    return 0;
}

SEC("xdp")
int xdp_helpers(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return XDP_ABORTED;
    __u8 *b = data;
    __u32 k;
    __u64 v;

    /* bpf_loop with early stop */
    struct loop_ctx lc = { 0, b[0] % 32 + 1 };
    long iterations = bpf_loop(100, square_step, &lc, 0);
    k = 0; v = lc.sum; bpf_map_update_elem(&results, &k, &v, BPF_ANY);
    k = 1; v = iterations; bpf_map_update_elem(&results, &k, &v, BPF_ANY);

    /* bpf_for_each_map_elem over proto_count */
    __u64 total = 0;
    k = 2; v = bpf_for_each_map_elem(&proto_count, sum_values, &total, 0);
    bpf_map_update_elem(&results, &k, &v, BPF_ANY);
    k = 3; bpf_map_update_elem(&results, &k, &total, BPF_ANY);

    /* queue and stack */
    __u32 x = b[1], y = b[2], out = 0;
    bpf_map_push_elem(&fifo, &x, 0);
    bpf_map_push_elem(&fifo, &y, 0);
    bpf_map_push_elem(&lifo, &x, 0);
    bpf_map_push_elem(&lifo, &y, 0);
    __u64 qs = 0;
    if (bpf_map_pop_elem(&fifo, &out) == 0)
        qs = out;
    if (bpf_map_peek_elem(&lifo, &out) == 0)
        qs = qs * 1000 + out;
    k = 4; bpf_map_update_elem(&results, &k, &qs, BPF_ANY);

    /* LPM trie: longest prefix for the address in bytes 4..7 */
    struct lpm_key lk = { 32, *(__u32 *)(b + 4) };
    __u32 *route = bpf_map_lookup_elem(&routes, &lk);
    k = 5; v = route ? *route : 0xffff; bpf_map_update_elem(&results, &k, &v, BPF_ANY);

    /* checksum difference of two 8-byte words */
    __s64 csum = bpf_csum_diff((__be32 *)b, 8, (__be32 *)(b + 8), 8, 0);
    k = 6; v = csum; bpf_map_update_elem(&results, &k, &v, BPF_ANY);

    /* spin lock around a shared counter */
    __u32 zero = 0;
    struct locked *g = bpf_map_lookup_elem(&guarded, &zero);
    if (g) {
        bpf_spin_lock(&g->lock);
        g->value += b[3];
        bpf_spin_unlock(&g->lock);
    }
    return XDP_PASS;
}

struct {
    __uint(type, BPF_MAP_TYPE_PROG_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u32);
} jump_table SEC(".maps");

SEC("xdp")
int xdp_tail_target(struct xdp_md *ctx)
{
    __u32 k = 7;
    __u64 v = 0x7a11;
    bpf_map_update_elem(&results, &k, &v, BPF_ANY);
    return XDP_TX;
}

SEC("xdp")
int xdp_tail_caller(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 1 > end)
        return XDP_ABORTED;
    bpf_tail_call(ctx, &jump_table, *(__u8 *)data & 3);
    return XDP_DROP;                      /* empty slot: the tail call falls through */
}

char LICENSE[] SEC("license") = "GPL";
