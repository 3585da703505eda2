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

// AllDepartments lists every department a window or an item names, those
// of the departments key first (in its order, with their English names),
// then the others in the order they appear.
func (c *Config) AllDepartments() []Department {
	var out []Department
	seen := map[string]bool{}
	add := func(d Department) {
		if d.Name != "" && !seen[d.Name] {
			seen[d.Name] = true
			out = append(out, d)
		}
	}
	for _, d := range c.Departments {
		add(d)
	}
	for _, ref := range c.Windows() {
		add(Department{Name: ref.Window.Department})
	}
	for _, it := range c.Items {
		add(Department{Name: it.Department})
	}
	return out
}

// DepartmentEN is a department's English name, "" when none is configured.
func (c *Config) DepartmentEN(name string) string {
	for _, d := range c.Departments {
		if d.Name == name {
			return d.NameEN
		}
	}
	return ""
}

// Location is the halls' time zone; Validate has checked it loads.
func (c *Config) Location() *time.Location {
	loc, err := time.LoadLocation(c.Timezone)
	if err != nil {
		return time.UTC
	}
	return loc
}
