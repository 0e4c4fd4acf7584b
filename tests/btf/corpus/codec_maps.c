/* BTF test corpus: a program that stores known values into a map, read back through BTF codecs. */
#include <linux/types.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum color { RED, GREEN = 5, BLUE = -3 };

struct flags {
	unsigned int a : 3;
	unsigned int b : 5;
	int c : 7;
	unsigned long long wide : 40;
};

struct event {
	__u32 pid;
	__s64 delta;
	char comm[8];
	struct flags f;
	enum color color;
	_Bool seen;
	__u8 mac[6];
	__u16 ports[2];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, struct event);
} events SEC(".maps");

SEC("xdp")
int fill(struct xdp_md *ctx)
{
	__u32 key = 1;
	struct event *e = bpf_map_lookup_elem(&events, &key);

	if (!e)
		return XDP_ABORTED;
	e->pid = 4242;
	e->delta = -77;
	__builtin_memcpy(e->comm, "bpftest", 8);
	e->f.a = 6;
	e->f.b = 21;
	e->f.c = -33;
	e->f.wide = 0xABCDEF0123ULL;
	e->color = BLUE;
	e->seen = 1;
	e->mac[0] = 0x02; e->mac[5] = 0xEE;
	e->ports[0] = 8080; e->ports[1] = 53;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
