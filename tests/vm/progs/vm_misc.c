/* XDP programs exercising string/format helpers, redirects and the simulated environment. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __s64);
} out SEC(".maps");

struct text { char s[48]; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, struct text);
} texts SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
    __uint(key_size, sizeof(__u32));
    __uint(value_size, sizeof(__u32));
} samples SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_DEVMAP);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u32);
} ports SEC(".maps");

static __always_inline void put(__u32 k, __s64 v)
{
    bpf_map_update_elem(&out, &k, &v, BPF_ANY);
}

SEC("xdp")
int xdp_strings(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 16 > end)
        return XDP_ABORTED;
    __u32 k0 = 0;
    struct text *t = bpf_map_lookup_elem(&texts, &k0);
    if (!t)
        return XDP_ABORTED;
    static const char fmt[] = "n=%d s=%s x=%x u=%llu";
    static const char word[] = "pybpf";
    __u64 args[4] = { (__u64)(__s64)(-5 - *(__u8 *)data), (__u64)word, 0xbeef, 18446744073709551615ULL };
    put(0, bpf_snprintf(t->s, sizeof(t->s), fmt, args, sizeof(args)));

    char num[12] = "  -0x1aZ";
    __s64 value = 0;
    put(1, bpf_strtol(num, sizeof(num), 0, (long *)&value));
    put(2, value);
    __u64 uvalue = 0;
    char dec[8] = "4096";
    put(3, bpf_strtoul(dec, sizeof(dec), 10, (unsigned long *)&uvalue));
    put(4, uvalue);
    char hello[8] = "hellO";
    put(5, bpf_strncmp(hello, 5, "hello") > 0);
    put(6, bpf_strncmp(hello, 4, "hell"));
    put(7, bpf_get_smp_processor_id());
    return XDP_PASS;
}

SEC("xdp")
int xdp_redirects(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    if (data + 1 > end)
        return XDP_ABORTED;
    __u8 how = *(__u8 *)data;
    if (how == 1)
        return bpf_redirect(7, 0);
    if (how == 2)
        return bpf_redirect_map(&ports, 3, XDP_DROP);     /* empty slot: the fallback action */
    return XDP_PASS;
}

SEC("xdp")
int xdp_env(struct xdp_md *ctx)
{
    __u64 sample = bpf_ktime_get_ns();
    put(0, sample != 0);
    put(1, bpf_ktime_get_boot_ns() >= sample);
    put(2, bpf_get_prandom_u32());
    put(3, bpf_jiffies64());
    put(4, bpf_perf_event_output(ctx, &samples, BPF_F_CURRENT_CPU, &sample, sizeof(sample)));
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";

#include <linux/if_ether.h>
#include <linux/ip.h>
#ifndef AF_INET
#define AF_INET 2
#endif

SEC("xdp")
int xdp_fib(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    struct ethhdr *eth = data;
    struct iphdr *ip = data + sizeof(*eth);
    if ((void *)(ip + 1) > end)
        return XDP_ABORTED;
    struct bpf_fib_lookup params = {};
    params.family = AF_INET;
    params.ipv4_src = ip->saddr;
    params.ipv4_dst = ip->daddr;
    params.ifindex = ctx->ingress_ifindex;
    long rc = bpf_fib_lookup(ctx, &params, sizeof(params), 0);
    put(0, rc);
    if (rc != BPF_FIB_LKUP_RET_SUCCESS)
        return XDP_PASS;
    __builtin_memcpy(eth->h_dest, params.dmac, ETH_ALEN);
    __builtin_memcpy(eth->h_source, params.smac, ETH_ALEN);
    return bpf_redirect(params.ifindex, 0);
}
