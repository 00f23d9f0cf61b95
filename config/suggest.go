package config

// suggest returns the known option closest to name, or "" when none is
// close enough to be a likely typo.
func suggest(name string) string {
	best, bestDist := "", len(name)/3+1
	if bestDist > 3 {
		bestDist = 3
	}
	for _, o := range table {
		for _, candidate := range append([]string{o.Name}, o.Aliases...) {
			if len(candidate) < 3 {
				continue
			}
			if d := editDistance(name, candidate); d < bestDist || (d == bestDist && best == "") {
				best, bestDist = o.Name, d
			}
		}
	}
	return best
}

// editDistance is the Levenshtein distance.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
