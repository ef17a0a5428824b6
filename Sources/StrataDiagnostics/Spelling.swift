/// "did you mean …?" suggestions, from edit distance.
public enum Spelling {
    /// The candidate closest to `word`, if it is close enough to be a likely misspelling:
    /// at most a third of the word's length in edits (and at least one), ties going to the earlier candidate.
    public static func suggestion(for word: String, among candidates: [String]) -> String? {
        let lowered = word.lowercased()
        let limit = max(1, lowered.count / 3)
        var best: (String, Int)?
        for candidate in candidates where candidate != word {
            let d = distance(lowered, candidate.lowercased())
            if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// A note "did you mean 'x'?" placed at `location`, or nothing.
    public static func note(for word: String, among candidates: [String], at location: SourceLocation?) -> [Diagnostic] {
        guard let s = suggestion(for: word, among: candidates) else { return [] }
        return [.note("did you mean '\(s)'?", at: location)]
    }

    /// Optimal string alignment distance (Levenshtein plus adjacent transpositions).
    public static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        // Long words are never misspellings of our short keywords; bail out cheaply.
        if abs(x.count - y.count) > 8 || x.count > 64 || y.count > 64 { return max(x.count, y.count) }
        var d = [[Int]](repeating: [Int](repeating: 0, count: y.count + 1), count: x.count + 1)
        for i in 0...x.count { d[i][0] = i }
        for j in 0...y.count { d[0][j] = j }
        for i in 1...x.count {
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
                if i > 1, j > 1, x[i - 1] == y[j - 2], x[i - 2] == y[j - 1] {
                    d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
                }
            }
        }
        return d[x.count][y.count]
    }
}
