package config

import "time"

// WindowRef is a window together with the hall it belongs to.
type WindowRef struct {
	Hall   *Hall
	Window *Window
}

// Windows lists every window of every hall, in file order.
func (c *Config) Windows() []WindowRef {
	var out []WindowRef
	for i := range c.Halls {
		h := &c.Halls[i]
		for j := range h.Windows {
			out = append(out, WindowRef{Hall: h, Window: &h.Windows[j]})
		}
	}
	return out
}

// FindWindow returns the window with the given id.
func (c *Config) FindWindow(id string) (WindowRef, bool) {
	for _, ref := range c.Windows() {
		if ref.Window.ID == id {
			return ref, true
		}
	}
	return WindowRef{}, false
}

// FindHall returns the hall with the given id.
func (c *Config) FindHall(id string) (*Hall, bool) {
	for i := range c.Halls {
		if c.Halls[i].ID == id {
			return &c.Halls[i], true
		}
	}
	return nil, false
}

// FindItem returns the catalog item with the given code.
func (c *Config) FindItem(code string) (*Item, bool) {
	for i := range c.Items {
		if c.Items[i].Code == code {
			return &c.Items[i], true
		}
	}
	return nil, false
}

// Location is the halls' time zone; Validate has checked it loads.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
