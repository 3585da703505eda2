package config

// Catalog is a read-only index of the halls, windows and items, built once
// so that per-event lookups are map reads.
type Catalog struct {
	halls      map[string]*Hall
	windowHall map[string]string
	items      map[string]*Item
}

// Catalog builds the index of c.
func (c *Config) Catalog() *Catalog {
	cat := &Catalog{halls: map[string]*Hall{}, windowHall: map[string]string{}, items: map[string]*Item{}}
	for i := range c.Halls {
		h := &c.Halls[i]
		cat.halls[h.ID] = h
		for _, w := range h.Windows {
			cat.windowHall[w.ID] = h.ID
		}
	}
	for i := range c.Items {
		cat.items[c.Items[i].Code] = &c.Items[i]
	}
	return cat
}

// WindowHall returns the id of the hall a window belongs to.
func (c *Catalog) WindowHall(window string) (string, bool) {
	h, ok := c.windowHall[window]
	return h, ok
}

// HasHall reports whether a hall id is configured.
func (c *Catalog) HasHall(id string) bool { _, ok := c.halls[id]; return ok }

// HasItem reports whether an item code is in the catalog.
func (c *Catalog) HasItem(code string) bool { _, ok := c.items[code]; return ok }
