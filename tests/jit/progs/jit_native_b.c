/* XDP programs for the JIT's native bpf_for_each_map_elem, bpf_csum_diff and spin locks: run in
 * the interpreter, the JIT and the kernel (BPF_PROG_TEST_RUN), results compared. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} arr SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 4);
    __type(key, __u32);
    __type(value, __u64);
} pcpu SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8);
    __type(key, __u32);
    __type(value, __u64);
} hsh SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 32);
    __type(key, __u32);
    __type(value, __u64);
} out SEC(".maps");

struct big { __u8 bytes[512]; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct big);
} bigbuf SEC(".maps");

struct locked { struct bpf_spin_lock lock; __u64 value; };
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, struct locked);
} guarded SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_QUEUE);
    __uint(max_entries, 3);
    __type(value, __u64);
} q SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_STACK);
    __uint(max_entries, 3);
    __type(value, __u64);
} st SEC(".maps");

struct fe_ctx { __u64 sum; __u32 stop; __u32 calls; };

static void put(__u32 k, __u64 v)
{
    bpf_map_update_elem(&out, &k, &v, BPF_ANY);
}

static long fe_cb(void *map, __u32 *key, __u64 *value, void *arg)
{
    struct fe_ctx *c = arg;
    c->calls++;
    c->sum = c->sum * 31 + *value + *key;
    *value += *key + 1;                       /* writes go to the map */
    return *key == c->stop ? 1 : 0;
}

static long inner_cb(void *map, __u32 *key, __u64 *value, void *arg)
{
    *(__u64 *)arg += *key + *value;
    return 0;
}

static long outer_cb(void *map, __u32 *key, __u64 *value, void *arg)
{
    __u64 s = 0;
    long n = bpf_for_each_map_elem(&pcpu, inner_cb, &s, 0);
    *(__u64 *)arg = *(__u64 *)arg * 7 + s * 100 + n + *key;
    return *key == 2;
}

static __always_inline int iterate(void *map, __u8 stop, __u32 slot)
{
    struct fe_ctx c = { 0, stop, 0 };
    long n = bpf_for_each_map_elem(map, fe_cb, &c, 0);
    put(slot, n);
    put(slot + 1, c.sum);
    put(slot + 2, c.calls);
    return 0;
}

/* arrays and per-CPU arrays only: everything here is native in the JIT */
SEC("xdp")
int fe_native(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 4) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    iterate(&arr, b[0], 0);
    iterate(&pcpu, b[1], 3);
    struct fe_ctx c = { 0, 99, 0 };
    put(6, bpf_for_each_map_elem(&arr, fe_cb, &c, b[2] & 1));        /* flags: -EINVAL */
    __u64 nested = 0;
    put(7, bpf_for_each_map_elem(&arr, outer_cb, &nested, 0));
    put(8, nested);
    return XDP_PASS;
}

/* a hash map: iterated by the Python helper (insertion order) */
SEC("xdp")
int fe_hash(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 4) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    iterate(&hsh, b[0], 9);
    return XDP_PASS;
}

SEC("xdp")
int csum(struct xdp_md *ctx)
{
    __u8 *data = (void *)(long)ctx->data;
    if ((void *)(data + 64) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    __u32 a[8], c[8];
    __builtin_memcpy(a, data, 32);
    __builtin_memcpy(c, data + 32, 32);
    __u32 seed = *(__u32 *)(data + 60);
    put(0, bpf_csum_diff(a, 32, c, 32, seed));
    put(1, bpf_csum_diff(0, 0, c, 20, seed));
    put(2, bpf_csum_diff(a, 12, 0, 0, seed));
    put(3, bpf_csum_diff(a, 4, c, 28, 0xffffffff));
    put(4, bpf_csum_diff(a, 24, c, 32, seed ^ 0x5a5a5a5a));
    put(5, bpf_csum_diff(0, 0, 0, 0, seed));
    put(6, bpf_csum_diff((__be32 *)data, 16, (__be32 *)(data + 16), 16, 0));
    put(7, bpf_csum_diff(a, 28, c, 4, seed));
    __u32 zero = 0;
    struct big *big = bpf_map_lookup_elem(&bigbuf, &zero);
    if (big) {
        __builtin_memcpy(big->bytes, data, 64);
        put(8, bpf_csum_diff((__be32 *)big->bytes, 512, 0, 0, seed));
        put(9, bpf_csum_diff((__be32 *)big->bytes, 508, (__be32 *)big->bytes, 4, 0));
    }
    return XDP_PASS;
}

/* the interpreter's -EINVAL cases (sizes not multiples of 4, more than 512 bytes together); the
 * 6.18 kernel checks neither (VM differential only) */
SEC("xdp")
int csum_errors(struct xdp_md *ctx)
{
    __u8 *data = (void *)(long)ctx->data;
    if ((void *)(data + 64) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    __u32 a[8];
    __builtin_memcpy(a, data, 32);
    put(0, bpf_csum_diff(a, 8, a, 6, 0));
    put(1, bpf_csum_diff(a, 2, 0, 0, 0));
    put(2, bpf_csum_diff(0, 0, a, 31, 0));
    __u32 zero = 0;
    struct big *big = bpf_map_lookup_elem(&bigbuf, &zero);
    if (big)
        put(3, bpf_csum_diff((__be32 *)big->bytes, 512, (__be32 *)big->bytes, 4, 0));
    return XDP_PASS;
}

SEC("xdp")
int locks(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 4) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    for (__u32 k = 0; k < 2; k++) {
        __u32 key = k;
        struct locked *g = bpf_map_lookup_elem(&guarded, &key);
        if (!g)
            return XDP_DROP;
        bpf_spin_lock(&g->lock);
        g->value = g->value * 3 + b[k];
        bpf_spin_unlock(&g->lock);
    }
    return XDP_PASS;
}

/* queue and stack: full (-E2BIG), BPF_EXIST drops the oldest, bad flags (-EINVAL), empty (-ENOENT) */
SEC("xdp")
int queues(struct xdp_md *ctx)
{
    __u8 *b = (void *)(long)ctx->data;
    if ((void *)(b + 4) > (void *)(long)ctx->data_end)
        return XDP_ABORTED;
    __u64 acc = 0, v;
    for (int i = 0; i < 4; i++) {
        __u64 flags = (i == 3 && (b[0] & 1)) ? BPF_EXIST : 0;
        v = b[i] * 1000 + i;
        acc = acc * 31 + bpf_map_push_elem(&q, &v, flags);
        acc = acc * 31 + bpf_map_push_elem(&st, &v, flags);
    }
    v = 77;
    acc = acc * 31 + bpf_map_push_elem(&q, &v, (b[1] & 4) ? 4 : 0);
    put(0, acc);
    for (int i = 0; i < 2 + (b[2] & 3); i++) {
        v = 0;
        acc = acc * 31 + bpf_map_pop_elem(&q, &v) + v;
        v = 0;
        acc = acc * 31 + bpf_map_peek_elem(&st, &v) + v;
        v = 0;
        acc = acc * 31 + bpf_map_pop_elem(&st, &v) + v;
    }
    put(1, acc);
    return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
