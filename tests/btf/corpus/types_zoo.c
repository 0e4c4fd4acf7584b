/* BTF test corpus: one of (nearly) every BTF kind clang emits, for parser/dump/codec tests. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED, GREEN = 5, BLUE = -3 };
enum big { BIG_SMALL = 1, BIG_HUGE = 0x123456789abcdefULL };
typedef unsigned long long u64_t;
typedef int (*handler_fn)(void *ctx, const char *name, ...);

struct flags {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long wide : 40;
	unsigned char tail;
};

union either {
	__u32 word;
	__u8 bytes[4];
	struct { __u16 lo, hi; } halves;
};

struct node {
	struct node *next;
	const volatile int *restrict cvp;
	handler_fn handlers[2];
	int (*callback)(struct node *, long);
	char name[16];
	enum color color;
	enum big big;
	union either u;
	struct flags f;
	struct { int x; int y; } point;
	_Bool ok;
	float ratio;
	double precise;
	u64_t counter;
	char *names[3];
	struct opaque *hidden;
} __attribute__((aligned(8)));

struct packed_pair {
	char c;
	int i;
} __attribute__((packed));

struct value {
	__u32 pid;
	__s64 delta;
	char comm[8];
	struct flags f;
	enum color color;
	_Bool seen;
	struct packed_pair pp;
	__u16 ports[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct value);
} values SEC(".maps");

struct node global_node = {};
struct packed_pair pair = {};
volatile const int answer = 42;
static int counter;
int __attribute__((btf_decl_tag("tagged"))) tagged_var;
int __attribute__((btf_type_tag("user"))) *tagged_ptr;
extern int bpf_extern_thing __ksym __attribute__((weak));

static __noinline int helper(struct node *n, int k)
{
	if (!n)
		return -1;
	return n->color + k;
}

SEC("xdp")
int zoo(struct xdp_md *ctx)
{
	struct value *v;
	__u32 key = 1;

	v = bpf_map_lookup_elem(&values, &key);
	if (!v)
		return XDP_PASS;
	counter += answer + helper(&global_node, v->pid);
	return v->f.a ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
