package engine

import "hash/maphash"

// idIndex maps vehicle ids to state-table slots: an open-addressing table of
// slot+1 (0 = empty) with linear probing, keys compared against names[slot].
// Why not map[string]uint32: a Go map entry costs about 40 bytes per vehicle
// (16-byte key header, value, control bytes, load slack) and hashes through an
// interface; this table costs 8-16 bytes and looks an id up from the caller's
// []byte without converting it.
type idIndex struct {
	seed maphash.Seed
	tab  []uint32
	mask uint64
	n    int
}

func (x *idIndex) init() {
	x.seed = maphash.MakeSeed()
	x.tab = make([]uint32, 1024)
	x.mask = 1023
}

func (x *idIndex) len() int { return x.n }

// find returns the slot of id and where its probe sequence ended.
func (x *idIndex) find(names []string, id []byte) (slot uint32, ok bool) {
	i := maphash.Bytes(x.seed, id) & x.mask
	for {
		s := x.tab[i]
		if s == 0 {
			return 0, false
		}
		if names[s-1] == string(id) {
			return s - 1, true
		}
		i = (i + 1) & x.mask
	}
}

// insert adds slot under names[slot], which must not be present.
func (x *idIndex) insert(names []string, slot uint32) {
	if (x.n+1)*2 > len(x.tab) {
		x.rehash(names, len(x.tab)*2)
	}
	x.place(names[slot], slot)
	x.n++
}

func (x *idIndex) place(name string, slot uint32) {
	i := maphash.String(x.seed, name) & x.mask
	for x.tab[i] != 0 {
		i = (i + 1) & x.mask
	}
	x.tab[i] = slot + 1
}

func (x *idIndex) rehash(names []string, size int) {
	old := x.tab
	x.tab = make([]uint32, size)
	x.mask = uint64(size - 1)
	for _, s := range old {
		if s != 0 {
			x.place(names[s-1], s-1)
		}
	}
}

// remove deletes name (present, at slot) with backward-shift deletion, which
// keeps every probe sequence unbroken without tombstones.
func (x *idIndex) remove(names []string, name string, slot uint32) {
	i := maphash.String(x.seed, name) & x.mask
	for x.tab[i] != slot+1 {
		i = (i + 1) & x.mask
	}
	j := i
	for {
		j = (j + 1) & x.mask
		s := x.tab[j]
		if s == 0 {
			break
		}
		home := maphash.String(x.seed, names[s-1]) & x.mask
		// Move s back into the hole at i unless its home lies cyclically in (i, j].
		if (j > i && (home <= i || home > j)) || (j < i && home <= i && home > j) {
			x.tab[i] = s
			i = j
		}
	}
	x.tab[i] = 0
	x.n--
}
