// SPDX-License-Identifier: MIT
/* xdplb.bpf.c: an XDP layer-4 load balancer (Katran-style): VIP lookup, connection tracking, Maglev
 * backend choice, IPIP / IP6IP6 / IPv4-in-IPv6 encapsulation to the backend, XDP_TX (backends answer
 * directly).
 *
 * It must never touch traffic that is not addressed to a configured VIP (XDP_PASS, unchanged), never
 * read a byte it has not bounds-checked, and never send a packet to a backend it did not look up.
 *
 * Policy decisions (documented in pybpf.apps.lb):
 *  - malformed IP headers (bad version, ihl < 5, total length shorter than the header or longer than
 *    the packet) and truncated TCP/UDP headers are dropped and counted;
 *  - IPv4 options are accepted (the L4 header is found at ihl * 4);
 *  - ICMP "fragmentation needed" and ICMPv6 "packet too big" quoting a packet sent from a VIP are
 *    encapsulated, whole, to the backend that owns the quoted flow (its conntrack entry, else the
 *    Maglev choice; no entry is created), as Katran does, so path-MTU discovery works with DSR;
 *  - IPv4 fragments, IPv6 fragment / extension headers and every other non-TCP/UDP packet are passed
 *    to the kernel and counted;
 *  - a TCP SYN always picks a fresh backend through the VIP's Maglev table; any other packet uses the
 *    conntrack entry of its flow, or the Maglev table when the entry is missing or points at a
 *    backend that was removed.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "xdplb.h"

#define IP_MF 0x2000
#define IP_OFFSET 0x1fff
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_DEST 60
#define NEXTHDR_AUTH 51
#define NEXTHDR_ESP 50
#define NEXTHDR_NONE 59
#define NEXTHDR_MOBILITY 135

/* ICMP header fields used here (linux/icmp.h drags in libc headers a BPF build cannot use). */
struct icmp_error_hdr {
	__u8 type;
	__u8 code;
	__be16 checksum;
	__be32 rest;                /* unused / next-hop MTU */
};
#define ICMP_DEST_UNREACH 3
#define ICMP_FRAG_NEEDED 4
#define ICMPV6_PKT_TOOBIG 2
#ifndef IPPROTO_ICMPV6
#define IPPROTO_ICMPV6 58
#endif

#define BACKEND_NONE 0xffffffffu
#define HASH_SEED 0x2b7e1516u

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct lb_vip_key);
	__type(value, struct lb_vip_meta);
} vip_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS * LB_RING_SIZE);
	__type(key, __u32);
	__type(value, __u32);
} maglev_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend);
} backends SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS * 256);
	__type(key, struct lb_membership_key);
	__type(value, struct lb_membership_value);
} vip_backends SEC(".maps");

/* Per-CPU LRU lists (BPF_F_NO_COMMON_LRU): no cross-CPU lock on the fast path, as Katran. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_CT_ENTRIES);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_flow_value);
} conntrack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} config SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_traffic);
} vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_traffic);
} backend_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_CNT_MAX);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

/* What the parser learned about one packet. */
struct packet {
	struct lb_flow_key flow;
	__u32 inner_len;            /* IP header + payload of the client packet, from its IP header */
	__u8 tos;                   /* IPv4 TOS or IPv6 traffic class */
	__u8 is_syn;
	__u8 icmp_error;            /* an ICMP error about flow (flow is the quoted packet, reversed) */
	__u8 pad;
	__u32 flow_label;           /* IPv6 only: the 20-bit flow label (host order) */
};

static __always_inline void count(__u32 which)
{
	__u64 *value = bpf_map_lookup_elem(&counters, &which);

	if (value)
		*value += 1;
}

static __always_inline void add_traffic(void *map, __u32 index, __u64 bytes)
{
	struct lb_traffic *t = bpf_map_lookup_elem(map, &index);

	if (t) {
		t->packets += 1;
		t->bytes += bytes;
	}
}

static __always_inline __u32 rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

/* MurmurHash3 (x86, 32-bit) of the 40-byte flow key; pybpf.apps.lb.flowhash mirrors it. */
static __always_inline __u32 flow_hash(const struct lb_flow_key *key)
{
	const __u32 *words = (const __u32 *)key;
	__u32 h = HASH_SEED;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*key) / 4); i++) {
		__u32 k = words[i] * 0xcc9e2d51u;

		k = rotl32(k, 15) * 0x1b873593u;
		h ^= k;
		h = rotl32(h, 13) * 5 + 0xe6546b64u;
	}
	h ^= sizeof(*key);
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Parse TCP/UDP ports at l4; returns 0, or the counter explaining why the packet stops here. */
static __always_inline int parse_l4(void *l4, void *data_end, struct packet *pkt)
{
	if (pkt->flow.proto == IPPROTO_TCP) {
		struct tcphdr *tcp = l4;

		if ((void *)(tcp + 1) > data_end)
			return LB_CNT_DROP_TRUNCATED;
		if (tcp->doff < 5)
			return LB_CNT_DROP_BAD_HEADER;
		pkt->flow.sport = tcp->source;
		pkt->flow.dport = tcp->dest;
		pkt->is_syn = tcp->syn && !tcp->ack;
		return 0;
	}
	if (pkt->flow.proto == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return LB_CNT_DROP_TRUNCATED;
		pkt->flow.sport = udp->source;
		pkt->flow.dport = udp->dest;
		return 0;
	}
	return LB_CNT_PASS_NON_L4;
}

/* Fill the flow from the L4 ports quoted in an ICMP error: the quoted packet went VIP -> client. */
static __always_inline int quoted_ports(void *l4, void *data_end, struct packet *pkt)
{
	__be16 *ports = l4;

	if ((void *)(ports + 2) > data_end)
		return LB_CNT_PASS_NON_L4;
	if (pkt->flow.proto != IPPROTO_TCP && pkt->flow.proto != IPPROTO_UDP)
		return LB_CNT_PASS_NON_L4;
	pkt->flow.sport = ports[1];
	pkt->flow.dport = ports[0];
	pkt->icmp_error = 1;
	return 0;
}

static __always_inline int parse_icmp4(void *l4, void *data_end, struct packet *pkt)
{
	struct icmp_error_hdr *icmp = l4;
	struct iphdr *quoted;

	if ((void *)(icmp + 1) > data_end)
		return LB_CNT_PASS_NON_L4;
	if (icmp->type != ICMP_DEST_UNREACH || icmp->code != ICMP_FRAG_NEEDED)
		return LB_CNT_PASS_NON_L4;
	quoted = (void *)(icmp + 1);
	if ((void *)(quoted + 1) > data_end || quoted->ihl != 5)
		return LB_CNT_PASS_NON_L4;
	pkt->flow.proto = quoted->protocol;
	pkt->flow.src.v4 = quoted->daddr;
	pkt->flow.dst.v4 = quoted->saddr;
	return quoted_ports(quoted + 1, data_end, pkt);
}

static __always_inline int parse_icmp6(void *l4, void *data_end, struct packet *pkt)
{
	struct icmp_error_hdr *icmp = l4;
	struct ipv6hdr *quoted;

	if ((void *)(icmp + 1) > data_end)
		return LB_CNT_PASS_NON_L4;
	if (icmp->type != ICMPV6_PKT_TOOBIG)
		return LB_CNT_PASS_NON_L4;
	quoted = (void *)(icmp + 1);
	if ((void *)(quoted + 1) > data_end)
		return LB_CNT_PASS_NON_L4;
	pkt->flow.proto = quoted->nexthdr;
	__builtin_memcpy(pkt->flow.src.bytes, quoted->daddr.in6_u.u6_addr8, 16);
	__builtin_memcpy(pkt->flow.dst.bytes, quoted->saddr.in6_u.u6_addr8, 16);
	return quoted_ports(quoted + 1, data_end, pkt);
}

static __always_inline int parse_ipv4(void *l3, void *data_end, struct packet *pkt)
{
	struct iphdr *iph = l3;
	__u32 header_len, total_len;

	if ((void *)(iph + 1) > data_end)
		return LB_CNT_DROP_TRUNCATED;
	if (iph->version != 4 || iph->ihl < 5)
		return LB_CNT_DROP_BAD_HEADER;
	header_len = iph->ihl * 4;
	total_len = bpf_ntohs(iph->tot_len);
	if (total_len < header_len)
		return LB_CNT_DROP_BAD_HEADER;
	if ((__u64)total_len > (__u64)(data_end - l3))
		return LB_CNT_DROP_TRUNCATED;
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return LB_CNT_PASS_FRAGMENT;

	pkt->flow.family = LB_FAMILY_V4;
	pkt->flow.proto = iph->protocol;
	pkt->flow.src.v4 = iph->saddr;
	pkt->flow.dst.v4 = iph->daddr;
	pkt->inner_len = total_len;
	pkt->tos = iph->tos;
	if (iph->protocol == IPPROTO_ICMP)
		return parse_icmp4(l3 + header_len, data_end, pkt);
	return parse_l4(l3 + header_len, data_end, pkt);
}

static __always_inline int parse_ipv6(void *l3, void *data_end, struct packet *pkt)
{
	struct ipv6hdr *ip6 = l3;
	__u32 payload_len;

	if ((void *)(ip6 + 1) > data_end)
		return LB_CNT_DROP_TRUNCATED;
	if (ip6->version != 6)
		return LB_CNT_DROP_BAD_HEADER;
	payload_len = bpf_ntohs(ip6->payload_len);
	if ((__u64)payload_len + sizeof(*ip6) > (__u64)(data_end - l3))
		return LB_CNT_DROP_TRUNCATED;
	switch (ip6->nexthdr) {
	case NEXTHDR_FRAGMENT:
		return LB_CNT_PASS_FRAGMENT;
	case NEXTHDR_HOP:
	case NEXTHDR_ROUTING:
	case NEXTHDR_DEST:
	case NEXTHDR_AUTH:
	case NEXTHDR_ESP:
	case NEXTHDR_MOBILITY:
		return LB_CNT_PASS_IPV6_EXT;
	}

	pkt->flow.family = LB_FAMILY_V6;
	pkt->flow.proto = ip6->nexthdr;
	__builtin_memcpy(pkt->flow.src.bytes, ip6->saddr.in6_u.u6_addr8, 16);
	__builtin_memcpy(pkt->flow.dst.bytes, ip6->daddr.in6_u.u6_addr8, 16);
	pkt->inner_len = payload_len + sizeof(*ip6);
	pkt->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
	pkt->flow_label = ((__u32)(ip6->flow_lbl[0] & 0x0f) << 16) | ((__u32)ip6->flow_lbl[1] << 8) |
			  ip6->flow_lbl[2];
	if (ip6->nexthdr == IPPROTO_ICMPV6)
		return parse_icmp6(l3 + sizeof(*ip6), data_end, pkt);
	return parse_l4(l3 + sizeof(*ip6), data_end, pkt);
}

static __always_inline struct lb_vip_meta *find_vip(const struct packet *pkt)
{
	struct lb_vip_key key;
	struct lb_vip_meta *meta;

	__builtin_memset(&key, 0, sizeof(key));
	key.addr = pkt->flow.dst;
	key.port = pkt->flow.dport;
	key.proto = pkt->flow.proto;
	key.family = pkt->flow.family;
	meta = bpf_map_lookup_elem(&vip_map, &key);
	if (meta)
		return meta;
	key.port = 0;               /* an any-port VIP */
	return bpf_map_lookup_elem(&vip_map, &key);
}

static __always_inline struct lb_backend *live_backend(__u32 index)
{
	struct lb_backend *b = bpf_map_lookup_elem(&backends, &index);

	if (!b || !(b->flags & LB_BACKEND_ALIVE))
		return 0;
	return b;
}

/* The backend for this flow: conntrack first (except for SYNs), then the VIP's Maglev table. */
static __always_inline struct lb_backend *pick_backend(struct packet *pkt, __u32 vip_index,
						       __u32 *backend_index)
{
	struct lb_flow_value *ct = 0;
	struct lb_flow_value fresh = {};
	struct lb_backend *b;
	__u32 slot, *entry;

	if (pkt->icmp_error) {
		count(LB_CNT_ICMP_TO_BACKEND);
		ct = bpf_map_lookup_elem(&conntrack, &pkt->flow);
		if (ct && ct->vip_index == vip_index) {
			b = live_backend(ct->backend_index);
			if (b) {
				*backend_index = ct->backend_index;
				return b;
			}
		}
	} else if (!pkt->is_syn) {
		ct = bpf_map_lookup_elem(&conntrack, &pkt->flow);
		if (ct && ct->vip_index == vip_index) {
			b = live_backend(ct->backend_index);
			if (b) {
				count(LB_CNT_CT_HIT);
				*backend_index = ct->backend_index;
				return b;
			}
			count(LB_CNT_CT_STALE);
		} else if (pkt->flow.proto == IPPROTO_TCP) {
			count(LB_CNT_CT_MISS);
		} else {
			count(LB_CNT_NEW_CONN);
		}
	} else {
		count(LB_CNT_NEW_CONN);
	}

	slot = vip_index * LB_RING_SIZE + flow_hash(&pkt->flow) % LB_RING_SIZE;
	entry = bpf_map_lookup_elem(&maglev_table, &slot);
	if (!entry || *entry == BACKEND_NONE)
		return 0;
	b = live_backend(*entry);
	if (!b)
		return 0;
	fresh.backend_index = *entry;
	fresh.vip_index = vip_index;
	if (!pkt->icmp_error)       /* an ICMP error never creates a flow */
		bpf_map_update_elem(&conntrack, &pkt->flow, &fresh, BPF_ANY);
	*backend_index = fresh.backend_index;
	return b;
}

static __always_inline __u16 ipv4_checksum(const struct iphdr *iph)
{
	const __u16 *words = (const __u16 *)iph;
	__u32 sum = 0;

#pragma unroll
	for (int i = 0; i < (int)(sizeof(*iph) / 2); i++)
		sum += words[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Prepend an Ethernet + IPv4 header (IPIP). The old Ethernet header becomes part of the gap. */
static __always_inline int encap_ipv4(struct xdp_md *ctx, const struct packet *pkt,
				      const struct lb_backend *b, const struct lb_config *cfg)
{
	struct iphdr outer = {};
	struct ethhdr *eth, *old_eth;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct iphdr)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct iphdr) + 2 * sizeof(struct ethhdr) > data_end)
		return -1;
	eth = data;
	old_eth = data + sizeof(struct iphdr);
	__builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, cfg->nexthop_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IP);

	outer.version = 4;
	outer.ihl = 5;
	outer.tos = pkt->tos;
	outer.tot_len = bpf_htons(pkt->inner_len + sizeof(struct iphdr));
	outer.ttl = LB_DEFAULT_TTL;
	outer.protocol = IPPROTO_IPIP;
	outer.saddr = cfg->src_v4;
	outer.daddr = b->addr.v4;
	outer.check = ipv4_checksum(&outer);
	__builtin_memcpy(data + sizeof(struct ethhdr), &outer, sizeof(outer));
	return 0;
}

/* Prepend an Ethernet + IPv6 header (IP6IP6, or IPv4-in-IPv6 for an IPv4 VIP). */
static __always_inline int encap_ipv6(struct xdp_md *ctx, const struct packet *pkt,
				      const struct lb_backend *b, const struct lb_config *cfg)
{
	struct ipv6hdr outer = {};
	struct ethhdr *eth, *old_eth;
	void *data, *data_end;

	if (bpf_xdp_adjust_head(ctx, -(int)sizeof(struct ipv6hdr)))
		return -1;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	if (data + sizeof(struct ipv6hdr) + 2 * sizeof(struct ethhdr) > data_end)
		return -1;
	eth = data;
	old_eth = data + sizeof(struct ipv6hdr);
	__builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, cfg->nexthop_mac, ETH_ALEN);
	eth->h_proto = bpf_htons(ETH_P_IPV6);

	outer.version = 6;
	outer.priority = pkt->tos >> 4;
	outer.flow_lbl[0] = ((pkt->tos & 0x0f) << 4) | ((pkt->flow_label >> 16) & 0x0f);
	outer.flow_lbl[1] = (pkt->flow_label >> 8) & 0xff;
	outer.flow_lbl[2] = pkt->flow_label & 0xff;
	outer.payload_len = bpf_htons(pkt->inner_len);
	outer.nexthdr = pkt->flow.family == LB_FAMILY_V4 ? IPPROTO_IPIP : IPPROTO_IPV6;
	outer.hop_limit = LB_DEFAULT_TTL;
	__builtin_memcpy(outer.saddr.in6_u.u6_addr8, cfg->src_v6, 16);
	__builtin_memcpy(outer.daddr.in6_u.u6_addr8, b->addr.bytes, 16);
	__builtin_memcpy(data + sizeof(struct ethhdr), &outer, sizeof(outer));
	return 0;
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 length = data_end - data;
	struct ethhdr *eth = data;
	struct packet pkt;
	struct lb_vip_meta *vip;
	struct lb_backend *b;
	struct lb_config *cfg;
	__u32 vip_index, backend_index = 0, zero = 0;
	int verdict, err;

	count(LB_CNT_RX);
	if ((void *)(eth + 1) > data_end) {
		count(LB_CNT_DROP_TRUNCATED);
		return XDP_DROP;
	}
	__builtin_memset(&pkt, 0, sizeof(pkt));
	if (eth->h_proto == bpf_htons(ETH_P_IP))
		verdict = parse_ipv4(eth + 1, data_end, &pkt);
	else if (eth->h_proto == bpf_htons(ETH_P_IPV6))
		verdict = parse_ipv6(eth + 1, data_end, &pkt);
	else
		verdict = LB_CNT_PASS_NON_IP;
	if (verdict) {
		count(verdict);
		return verdict >= LB_CNT_DROP_TRUNCATED ? XDP_DROP : XDP_PASS;
	}

	vip = find_vip(&pkt);
	if (!vip) {
		count(LB_CNT_PASS_NON_VIP);
		return XDP_PASS;
	}
	vip_index = vip->vip_index;
	if (vip_index >= LB_MAX_VIPS) {
		count(LB_CNT_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	cfg = bpf_map_lookup_elem(&config, &zero);
	if (!cfg) {
		count(LB_CNT_DROP_NO_CONFIG);
		return XDP_DROP;
	}
	b = pick_backend(&pkt, vip_index, &backend_index);
	if (!b) {
		count(LB_CNT_DROP_NO_BACKEND);
		return XDP_DROP;
	}
	add_traffic(&vip_stats, vip_index, length);
	add_traffic(&backend_stats, backend_index, length);

	if (b->family == LB_FAMILY_V4 && pkt.flow.family == LB_FAMILY_V4)
		err = encap_ipv4(ctx, &pkt, b, cfg);
	else if (b->family == LB_FAMILY_V6)
		err = encap_ipv6(ctx, &pkt, b, cfg);
	else
		err = -1;           /* IPv6 in IPv4 is not offered */
	if (err) {
		count(LB_CNT_DROP_ENCAP);
		return XDP_DROP;
	}
	count(LB_CNT_TX);
	return XDP_TX;
}

/* Backend side (Katran's decap): strip an IPIP / IP6IP6 / IPv4-in-IPv6 outer header and pass the
 * inner packet to the stack, for hosts whose kernel has no ipip/ip6tnl devices. Anything else passes
 * untouched. */
SEC("xdp")
int xdp_decap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data, saved;
	__u16 inner_proto;
	int outer_len;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *iph = (void *)(eth + 1);

		if ((void *)(iph + 1) > data_end || iph->ihl != 5 || iph->protocol != IPPROTO_IPIP ||
		    (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET)))
			return XDP_PASS;
		outer_len = sizeof(struct iphdr);
		inner_proto = bpf_htons(ETH_P_IP);
	} else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return XDP_PASS;
		if (ip6->nexthdr == IPPROTO_IPV6)
			inner_proto = bpf_htons(ETH_P_IPV6);
		else if (ip6->nexthdr == IPPROTO_IPIP)
			inner_proto = bpf_htons(ETH_P_IP);
		else
			return XDP_PASS;
		outer_len = sizeof(struct ipv6hdr);
	} else {
		return XDP_PASS;
	}
	__builtin_memcpy(&saved, eth, sizeof(saved));
	saved.h_proto = inner_proto;
	if (bpf_xdp_adjust_head(ctx, outer_len))
		return XDP_DROP;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(eth, &saved, sizeof(saved));
	return XDP_PASS;
}

/* Passes everything: attached to a veth peer so that native XDP_TX frames have a NAPI to land on. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* The benchmark floor: swap MACs and bounce the packet (the cheapest useful XDP_TX). */
SEC("xdp")
int xdp_tx_floor(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	__u8 mac[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(mac, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, mac, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
