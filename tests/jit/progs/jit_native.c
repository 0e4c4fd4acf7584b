/* XDP programs for the JIT's native helpers: ring buffer records written deterministically (JIT vs
 * interpreter vs kernel) and the time/random/CPU helpers (benchmarks/jit.py). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 1 << 22);       /* benchmarks/jit.py: 100k records of 24 bytes fit */
} big_ring SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");          /* 0: runs, 1: output failures, 2: reserve failures, 3: env */

static __always_inline __u64 bump(__u32 slot)
{
    __u64 *v = bpf_map_lookup_elem(&stats, &slot);
    if (!v)
        return 0;
    return __sync_fetch_and_add(v, 1);
}

/* One 16-byte record per packet: {run number, packet length} (the benchmark's case). */
SEC("xdp")
int ring_output16(struct xdp_md *ctx)
{
    __u64 rec[2] = {bump(0), ctx->data_end - ctx->data};
    if (bpf_ringbuf_output(&ring, rec, sizeof(rec), 0))
        bump(1);
    return XDP_PASS;
}

/* The same into a ring that holds every record of a benchmark run (nothing dropped). */
SEC("xdp")
int bench_output16(struct xdp_md *ctx)
{
    __u64 rec[2] = {bump(0), ctx->data_end - ctx->data};
    if (bpf_ringbuf_output(&big_ring, rec, sizeof(rec), 0))
        bump(1);
    return XDP_PASS;
}

struct big { __u64 n, len, pad[9]; };

/* The first packet byte picks what to do: bit 0 output (16 bytes) else reserve, bit 1 the big
 * (88-byte) record, bit 2 discard instead of submit. */
SEC("xdp")
int ring_mixed(struct xdp_md *ctx)
{
    __u8 *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
    if (data + 1 > end)
        return XDP_ABORTED;
    __u8 how = data[0];
    __u64 n = bump(0), len = end - data;
    if (how & 1) {
        __u64 rec[2] = {n, len};
        if (bpf_ringbuf_output(&ring, rec, sizeof(rec), 0))
            bump(1);
        return XDP_PASS;
    }
    if (how & 2) {
        struct big *b = bpf_ringbuf_reserve(&ring, sizeof(*b), 0);
        if (!b) {
            bump(2);
            return XDP_DROP;
        }
        b->n = n;
        b->len = len;
        for (int i = 0; i < 9; i++)
            b->pad[i] = n * 3 + i;
        if (how & 4)
            bpf_ringbuf_discard(b, 0);
        else
            bpf_ringbuf_submit(b, 0);
        return XDP_TX;
    }
    __u64 *r = bpf_ringbuf_reserve(&ring, 12, 0);
    if (!r) {
        bump(2);
        return XDP_DROP;
    }
    r[0] = n ^ len;
    ((__u32 *)r)[2] = (__u32)len;
    if (how & 4)
        bpf_ringbuf_discard(r, 0);
    else
        bpf_ringbuf_submit(r, 0);
    return XDP_TX;
}

/* Clock, PRNG and CPU id each run, mixed into stats[3] (the verdict stays XDP_PASS). */
SEC("xdp")
int bench_env(struct xdp_md *ctx)
{
    __u32 key = 3;
    __u64 *v = bpf_map_lookup_elem(&stats, &key);
    if (v)
        *v = bpf_ktime_get_ns() ^ ((__u64)bpf_get_prandom_u32() << 32) ^ bpf_get_smp_processor_id();
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
