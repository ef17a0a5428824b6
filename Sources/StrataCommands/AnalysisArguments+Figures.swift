/// What figures say about an analysis' images.
extension AnalysisArguments {
    /// The images searched, for a caption: `500 images of DATA (test split, the first 500)`, `3 images of X.npy`.
    func imagesDescription(_ count: Int) -> String {
        let images = count == 1 ? "1 image" : "\(count) images"
        if let data { return "\(images) of \(data) (\(split) split\(limit != nil ? ", the first \(count)" : ""))" }
        return "\(images) of \(input ?? "the input")"
    }
}
