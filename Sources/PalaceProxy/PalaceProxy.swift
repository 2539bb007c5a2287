// PalaceProxy — see DESIGN.md, "The house".
